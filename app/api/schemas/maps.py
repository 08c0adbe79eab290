"""The embedding map of a collection."""

from typing import Any

from pydantic import BaseModel, Field


class MapPointOut(BaseModel):
    id: str = Field(description="The document the chunk belongs to.")
    chunk: int = Field(description="The chunk's position in its document.")
    x: float = Field(description="Coordinate along the first principal component.")
    y: float = Field(description="Coordinate along the second principal component.")
    text: str = Field(description="The start of the chunk's text (at most 300 characters).")
    value: Any = Field(None, description="The chunk's document's value of the `color` field.")


class QueryPoint(BaseModel):
    text: str = Field(description="The query, as given in `q`.")
    x: float = Field(description="Where the query's embedding falls on the first component.")
    y: float = Field(description="Where it falls on the second component.")


class MapResponse(BaseModel):
    points: list[MapPointOut] = Field(
        description="Up to `limit` chunks spread evenly over the collection."
    )
    query: QueryPoint | None = Field(None, description="The query `q` on the same plane.")
    color: str | None = Field(None, description="The metadata field points are coloured by.")
    fields: list[str] = Field(description="The metadata fields of the points, to colour by.")
    chunks: int = Field(description="Chunks in the collection (the points are a sample).")
    explained: list[float] = Field(
        description="Share of the sample's variance along each axis (0-1)."
    )
