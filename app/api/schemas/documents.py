"""Documents: ingest, get, page, count, delete by ids or filter, patch metadata."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.api.schemas.common import (
    MAX_ID_CHARS,
    NON_BLANK,
    StrictModel,
    check_text,
    exactly_one_of,
    filter_schema,
    metadata_schema,
)
from app.store.filters import MAX_METADATA_KEYS, validate_metadata, validate_metadata_patch

MAX_DELETE_IDS = 10_000
FILTER_DESCRIPTION = (
    'Metadata filter: {"lang": "en"}, {"year": {"$gte": 2020}}; operators $eq, $ne, $in, '
    "$nin, $gt, $gte, $lt, $lte."
)


class DocumentIn(StrictModel):
    id: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="Document id; an existing id is replaced. Generated when missing.",
    )
    text: str = Field(
        description="The document's text; long texts are split into chunks.",
        json_schema_extra=NON_BLANK,
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Flat JSON object: values are strings, numbers, booleans, null "
        "or lists of those.",
        json_schema_extra=metadata_schema(),
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


class CountRequest(StrictModel):
    filter: dict[str, Any] | None = Field(
        None,
        description=FILTER_DESCRIPTION + " Without one, every document is counted.",
        json_schema_extra=filter_schema(),
    )


class CountResponse(BaseModel):
    count: int = Field(description="How many documents match.")


class DeleteRequest(StrictModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=exactly_one_of("ids", "filter"))

    ids: list[Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]] | None = Field(
        None,
        min_length=1,
        max_length=MAX_DELETE_IDS,
        description=f"Ids to delete (at most {MAX_DELETE_IDS:,}); unknown ids are not errors. "
        "Give exactly one of ids and filter.",
    )
    filter: dict[str, Any] | None = Field(
        None,
        description=FILTER_DESCRIPTION + " Must name at least one field: to delete every "
        "document, delete the collection.",
        json_schema_extra=filter_schema(min_fields=1),
    )

    @model_validator(mode="after")
    def _one_selector(self) -> "DeleteRequest":
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give exactly one of ids and filter")
        if self.filter is not None and not self.filter:
            raise ValueError(
                "filter: must name at least one field; to delete every document, "
                "delete the collection"
            )
        return self


class DeleteResponse(BaseModel):
    deleted: int = Field(description="How many documents were deleted.")


class MetadataPatch(StrictModel):
    metadata: dict[str, Any] = Field(
        description="JSON merge patch (RFC 7396) of the flat metadata: each key is set to its "
        "value, and a key set to null is removed. The document is not embedded again.",
        json_schema_extra=metadata_schema(2 * MAX_METADATA_KEYS),
    )

    _metadata = field_validator("metadata")(validate_metadata_patch)
