"""What every backend does with the encoder: check that it built the collection, chunk and
embed documents, check query vectors."""

import uuid

import numpy as np

from app.errors import BadInput, Conflict
from app.models.encoder import Encoder, EncoderInfo
from app.store.interface import ChunkRow, CollectionConfig, DocumentRow, NewDocument
from app.text.chunking import chunk_by_tokens


def encoder_mismatch(config: CollectionConfig, encoder: Encoder) -> str | None:
    """Why a collection cannot be used with `encoder`, or None."""
    mine = EncoderInfo(config.model, config.dimension, config.normalized)
    if mine == encoder.info:
        return None
    return (
        f"collection {config.name!r} was built with encoder {mine.name!r} "
        f"(dimension {mine.dimension}); the service runs {encoder.name!r} "
        f"(dimension {encoder.dimension})"
    )


def check_model(model: str | None, encoder: Encoder) -> None:
    """A new collection asks for the encoder this service runs, or for none."""
    if model is not None and model != encoder.name:
        raise BadInput(f"model: {model!r} is not served; this service embeds with {encoder.name!r}")


def require_encoder(config: CollectionConfig, encoder: Encoder) -> None:
    """Raise Conflict when `encoder` did not build the collection."""
    reason = encoder_mismatch(config, encoder)
    if reason:
        raise Conflict(reason)


def check_vectors(
    config: CollectionConfig, vectors: np.ndarray, field_name: str = "vector"
) -> None:
    """Raise BadInput unless `vectors` is a 2-D array of the collection's dimension."""
    if vectors.ndim != 2 or vectors.shape[1] != config.dimension:
        got = vectors.shape[-1] if vectors.ndim else 0
        raise BadInput(
            f"{field_name}: has {got} dimensions; collection {config.name!r} "
            f"holds {config.dimension}-dimensional vectors"
        )


def chunk_limits(encoder: Encoder, chunk_tokens: int, overlap: int) -> tuple[int, int]:
    """The chunk size and overlap in tokens: as asked, within the encoder's window."""
    window = max(8, encoder.max_seq_length - 2)
    size = min(chunk_tokens, window) if chunk_tokens > 0 else window
    return size, min(overlap, size // 2)


def latest_by_id(rows: list[DocumentRow]) -> dict[str, DocumentRow]:
    """The rows by id, one each: of an id given twice in a write, the later one wins."""
    return {r.id: r for r in rows}


def prepare_documents(
    encoder: Encoder, documents: list[NewDocument], chunk_tokens: int, overlap: int
) -> list[DocumentRow]:
    """Chunk and embed documents (ids generated where missing), ready to store."""
    ids = [d.id or uuid.uuid4().hex for d in documents]
    size, overlap = chunk_limits(encoder, chunk_tokens, overlap)
    offsets = encoder.token_offsets([d.text for d in documents])
    chunked = [
        chunk_by_tokens(d.text, spans, size, overlap)
        for d, spans in zip(documents, offsets, strict=True)
    ]
    texts = [c.text for chunks in chunked for c in chunks]
    vectors = encoder.encode(texts)
    rows: list[DocumentRow] = []
    at = 0
    for doc_id, doc, chunks in zip(ids, documents, chunked, strict=True):
        chunk_rows = [
            ChunkRow(c.index, c.start, c.end, vectors[at + i]) for i, c in enumerate(chunks)
        ]
        rows.append(DocumentRow(doc_id, doc.text, doc.metadata, chunk_rows))
        at += len(chunks)
    return rows
