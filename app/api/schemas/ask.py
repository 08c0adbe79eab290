"""Answers with sources."""

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.api.schemas.common import NON_BLANK, StrictModel, Usage, check_text, filter_schema


class AskRequest(StrictModel):
    question: str = Field(description="The question (not empty).", json_schema_extra=NON_BLANK)
    k: int = Field(4, ge=1, le=20, description="Sources to retrieve (1-20).")
    max_new_tokens: int = Field(256, ge=1, description="Tokens of the answer (1 to the limit).")
    filter: dict[str, Any] | None = Field(
        None, description="Metadata filter for the sources.", json_schema_extra=filter_schema()
    )
    mode: Literal["dense", "lexical", "hybrid"] = Field(
        "dense", description="How the sources are retrieved, as in search."
    )
    rerank: bool = Field(
        False, description="Re-score the candidate sources with the configured cross-encoder."
    )
    stream: bool = Field(False, description="Answer as Server-Sent Events.")

    _question = field_validator("question")(check_text)


class Source(BaseModel):
    id: str = Field(description="Document id; cited as [n] by position.")
    score: float = Field(description="The source's search score for the question.")
    text: str = Field(description="The passage given to the model (the best chunk).")


class AskResponse(BaseModel):
    answer: str = Field(description="The generated answer, citing sources as [1], [2] ...")
    sources: list[Source] = Field(description="The sources given to the model, in citation order.")
    model: str = Field(description="Generator name.")
    usage: Usage = Field(description="Token counts.")
    finish_reason: Literal["stop", "length", "cancelled"] = Field(description="Why it ended.")
