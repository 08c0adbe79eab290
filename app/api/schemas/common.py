"""Shared pieces of the API's request and response models."""

from pydantic import BaseModel, ConfigDict, Field

MAX_ID_CHARS = 256


def check_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return value


def check_text_list(value: list[str] | None) -> list[str] | None:
    for i, text in enumerate(value or []):
        if not text.strip():
            raise ValueError(f"item {i} must not be empty or only whitespace")
    return value


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. invalid_request, not_found.")
    message: str = Field(description="What was wrong, naming the field and the limit.")


class ErrorResponse(BaseModel):
    error: ErrorDetail = Field(description="The error.")


class Usage(BaseModel):
    prompt_tokens: int = Field(description="Tokens in the prompt.")
    completion_tokens: int = Field(description="Tokens generated.")
