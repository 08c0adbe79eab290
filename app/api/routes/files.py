"""Files in: each uploaded file becomes documents, replacing an earlier upload of the same name.
Uploads over a size threshold are answered 202 with a job to follow at /jobs/{id}."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse

from app.api.deps import ServicesDep
from app.api.responses import BAD_INPUT, CONFLICT, NOT_FOUND
from app.api.schemas.files import FileReport, FilesResponse, JobAccepted, JobStatus
from app.api.scopes import needs
from app.errors import NotFound
from app.ingest.files import FileOutcome, IngestLimits, ingest_file
from app.jobs import Job
from app.limits import check_count
from app.services import Services

router = APIRouter(tags=["documents"])

MAX_FILES = 100


def _limits(services: Services) -> IngestLimits:
    s = services.settings
    return IngestLimits(s.max_text_chars, s.max_batch_documents, s.chunk_tokens, s.chunk_overlap)


def _report(outcome: FileOutcome) -> FileReport:
    return FileReport(
        name=outcome.name,
        documents=outcome.documents,
        warnings=outcome.warnings,
        error=outcome.error,
    )


@router.post(
    "/collections/{name}/files",
    response_model=FilesResponse,
    responses={
        **BAD_INPUT,
        **CONFLICT,
        202: {"model": JobAccepted, "description": "A large upload: follow /jobs/{id}."},
    },
    summary="Upload .txt, .md, .html, .pdf, .jsonl or .csv files (creates the collection)",
    openapi_extra=needs("write", heavy=True),
)
def upload_files(
    name: str,
    files: Annotated[list[UploadFile], File(min_length=1, description="One or more files.")],
    services: ServicesDep,
    text_column: Annotated[
        str | None, Form(description="CSV column holding the text (default: text).")
    ] = None,
) -> FilesResponse | JSONResponse:
    check_count("files", len(files), MAX_FILES)
    collection = services.catalog.get_or_create(name)
    contents = [(upload.filename or "upload", upload.file.read()) for upload in files]
    limits = _limits(services)
    if sum(len(data) for _, data in contents) <= services.settings.upload_async_bytes:
        outcomes = [ingest_file(collection, n, d, text_column, limits) for n, d in contents]
        reports = [_report(o) for o in outcomes]
        return FilesResponse(files=reports, documents=sum(r.documents for r in reports))

    def work(job: Job) -> None:
        def count(documents: int, chunks: int) -> None:
            job.documents += documents
            job.chunks += chunks

        for file_name, data in contents:
            outcome = ingest_file(collection, file_name, data, text_column, limits, count)
            job.files.append(outcome)
            job.files_done += 1

    job = services.jobs.submit(name, len(contents), work)
    accepted = JobAccepted(id=job.id, status=job.status, status_url=f"/jobs/{job.id}")
    return JSONResponse(accepted.model_dump(), status_code=202)


@router.get(
    "/jobs/{job_id}",
    response_model=JobStatus,
    responses=NOT_FOUND,
    summary="Progress of a background upload",
    openapi_extra=needs("read"),
)
def get_job(job_id: str, services: ServicesDep) -> dict[str, Any]:
    job = services.jobs.get(job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} does not exist (jobs are kept while the process lives)")
    return job.to_dict()
