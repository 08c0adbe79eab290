"""Documents: ingest, get, page."""

from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from app.api.schemas.common import MAX_ID_CHARS, StrictModel, check_text
from app.store.filters import validate_metadata


class DocumentIn(StrictModel):
    id: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="Document id; an existing id is replaced. Generated when missing.",
    )
    text: str = Field(description="The document's text; long texts are split into chunks.")
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Flat JSON object: values are strings, numbers, booleans, null "
        "or lists of those.",
    )

    _text = field_validator("text")(check_text)
    _metadata = field_validator("metadata")(validate_metadata)


class IngestRequest(StrictModel):
    documents: list[DocumentIn] = Field(
        min_length=1,
        description="Documents to add or replace (at most the batch limit, default 1000).",
    )
    replace_source: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="A file re-ingested: stored documents whose metadata `source` is this value "
        "and that this request does not write are deleted in the same transaction.",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> "IngestRequest":
        seen: set[str] = set()
        for i, doc in enumerate(self.documents):
            if doc.id is not None:
                if doc.id in seen:
                    raise ValueError(
                        f"documents.{i}.id: {doc.id!r} appears more than once in the batch"
                    )
                seen.add(doc.id)
        return self


class IngestResponse(BaseModel):
    ids: list[str] = Field(description="Ids of the stored documents, in request order.")


class Document(BaseModel):
    id: str = Field(description="Document id.")
    text: str = Field(description="Full text.")
    metadata: dict[str, Any] = Field(description="Metadata as stored.")


class DocumentPage(BaseModel):
    documents: list[Document] = Field(description="One page, in insertion order.")
    next: str | None = Field(
        description="Cursor for the next page (pass as `after`); null at the end."
    )
