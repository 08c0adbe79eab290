"""Generation and OpenAI-shaped chat."""

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from app.api.schemas.common import NON_BLANK, StrictModel, Usage, check_text

MAX_STOP_STRINGS = 4


def check_stop(value: str | list[str] | None) -> list[str] | None:
    """Stop strings as a list: at most 4, none empty (OpenAI clients may send one string)."""
    if value is None:
        return None
    stops = [value] if isinstance(value, str) else value
    if len(stops) > MAX_STOP_STRINGS:
        raise ValueError(f"at most {MAX_STOP_STRINGS} stop strings")
    if any(not s for s in stops):
        raise ValueError("stop strings must not be empty")
    return stops


class Sampling(BaseModel):
    """How to pick tokens; the fields /generate and /v1/chat/completions share."""

    temperature: float = Field(0.0, ge=0, le=2, description="0 is greedy; up to 2.")
    top_p: float | None = Field(None, gt=0, le=1, description="Nucleus sampling mass, in (0, 1].")
    seed: int | None = Field(None, description="Makes sampling reproducible.")
    stream: bool = Field(False, description="Answer as Server-Sent Events.")

    _stop = field_validator("stop", check_fields=False)(check_stop)


class GenerateRequest(Sampling, StrictModel):
    stop: list[str] | None = Field(None, description="Up to 4 strings that end the generation.")
    prompt: str = Field(
        json_schema_extra=NON_BLANK,
        description="Text to continue (not empty; at most the prompt token limit).",
    )
    max_new_tokens: int = Field(128, ge=1, description="Tokens to generate (1 to the limit, 512).")

    _prompt = field_validator("prompt")(check_text)


class GenerateResponse(BaseModel):
    text: str = Field(description="The generated text.")
    model: str = Field(description="Generator name.")
    usage: Usage = Field(description="Token counts.")
    finish_reason: Literal["stop", "length", "cancelled"] = Field(
        description="stop: end of text or a stop string; length: max_new_tokens reached."
    )


class ChatMessage(StrictModel):
    role: Literal["system", "user", "assistant"] = Field(description="Who speaks.")
    content: str = Field(description="What is said.")


class ChatRequest(Sampling):
    """OpenAI chat completions request (the fields the service honours; others are ignored)."""

    model: str | None = Field(None, description="Ignored: the service's generator answers.")
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation so far.")
    max_tokens: int | None = Field(None, ge=1, description="Tokens to generate (default 128).")
    max_completion_tokens: int | None = Field(None, ge=1, description="Alias of max_tokens.")
    stop: str | list[str] | None = Field(None, description="Up to 4 stop strings.")
    n: int = Field(1, ge=1, le=1, description="Only 1 is supported.")
