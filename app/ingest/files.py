"""Files into a collection: parse, check, upsert; one report per file."""

from collections.abc import Callable
from dataclasses import dataclass, field

from app.ingest.parsers import ParseError, parse_file
from app.store.interface import CollectionStore, NewDocument

MAX_WARNINGS = 100


@dataclass
class FileOutcome:
    name: str
    documents: int = 0
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class IngestLimits:
    max_text_chars: int
    batch_documents: int
    chunk_tokens: int
    chunk_overlap: int


def ingest_file(
    collection: CollectionStore,
    name: str,
    data: bytes,
    text_column: str | None,
    limits: IngestLimits,
    on_batch: Callable[[int, int], None] | None = None,
) -> FileOutcome:
    """Store one file's documents, replacing an earlier upload of the same name the way
    `semsearch ingest` does: the first batch's write deletes, in the same transaction, the
    stored documents of that source (pages, rows, lines) it does not hold; later batches only
    add. A file that cannot be read is reported, not raised; `on_batch` hears the documents
    and chunks stored after each batch."""
    try:
        parsed = parse_file(name, data, text_column)
    except ParseError as exc:
        return FileOutcome(name, error=str(exc))
    docs = [NewDocument(d.text, d.id, d.metadata) for d in parsed.documents]
    too_long = [d.id for d in docs if len(d.text) > limits.max_text_chars]
    if too_long:
        return FileOutcome(
            name,
            error=f"{name}: {len(too_long)} documents over the text limit of "
            f"{limits.max_text_chars} characters (first: {too_long[0]})",
        )
    step = limits.batch_documents
    for start in range(0, len(docs), step):
        rows = collection.prepare(
            docs[start : start + step], limits.chunk_tokens, limits.chunk_overlap
        )
        # As Collection.upsert's replace_source: the first batch replaces the earlier upload.
        collection.store(rows, replace_source=name if start == 0 else None)
        if on_batch is not None:
            on_batch(len(rows), sum(len(r.chunks) for r in rows))
    return FileOutcome(name, len(docs), parsed.warnings[:MAX_WARNINGS])
