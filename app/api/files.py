"""Files in: each uploaded file becomes documents, replacing an earlier upload of the same name."""

from typing import Annotated

from fastapi import APIRouter, Form, UploadFile

from app.api.deps import ServicesDep
from app.api.limits import check_count
from app.api.responses import BAD_INPUT, CONFLICT
from app.api.schemas import FileReport, FilesResponse
from app.ingest.parsers import ParseError, parse_file
from app.store.collection import NewDocument

router = APIRouter(prefix="/collections/{name}/files", tags=["documents"])

MAX_FILES = 100


@router.post(
    "",
    response_model=FilesResponse,
    responses={**BAD_INPUT, **CONFLICT},
    summary="Upload .txt, .md, .html, .pdf, .jsonl or .csv files (creates the collection)",
)
def upload_files(
    name: str,
    files: Annotated[list[UploadFile], Form(description="One or more files.")],
    services: ServicesDep,
    text_column: Annotated[
        str | None, Form(description="CSV column holding the text (default: text).")
    ] = None,
) -> FilesResponse:
    settings = services.settings
    check_count("files", len(files), MAX_FILES)
    collection = services.catalog.get_or_create(name)
    reports: list[FileReport] = []
    for upload in files:
        filename = upload.filename or "upload"
        try:
            parsed = parse_file(filename, upload.file.read(), text_column)
        except ParseError as exc:
            reports.append(FileReport(name=filename, documents=0, error=str(exc)))
            continue
        docs = [NewDocument(d.text, d.id, d.metadata) for d in parsed.documents]
        too_long = [d.id for d in docs if len(d.text) > settings.max_text_chars]
        if too_long:
            error = (
                f"{filename}: {len(too_long)} documents over the text limit of "
                f"{settings.max_text_chars} characters (first: {too_long[0]})"
            )
            reports.append(FileReport(name=filename, documents=0, error=error))
            continue
        # Pages or rows of an earlier upload of this file that are gone now go with it.
        stale = collection.ids_matching({"source": filename})
        batch = settings.max_batch_documents
        for start in range(0, len(docs), batch):
            collection.upsert(
                docs[start : start + batch],
                settings.chunk_tokens,
                settings.chunk_overlap,
                delete_ids=stale if start == 0 else None,
            )
        reports.append(
            FileReport(name=filename, documents=len(docs), warnings=parsed.warnings[:100])
        )
    return FilesResponse(files=reports, documents=sum(r.documents for r in reports))
