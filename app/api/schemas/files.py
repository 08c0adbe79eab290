"""File uploads and their jobs."""

from typing import Literal

from pydantic import BaseModel, Field


class FileReport(BaseModel):
    name: str = Field(description="The uploaded file's name.")
    documents: int = Field(description="Documents stored from it.")
    warnings: list[str] = Field(
        default_factory=list, description="Lines or rows skipped, and why (at most 100)."
    )
    error: str | None = Field(None, description="Why the file was not stored, if it was not.")


class FilesResponse(BaseModel):
    files: list[FileReport] = Field(description="One report per uploaded file, in order.")
    documents: int = Field(description="Documents stored from all files.")


class JobAccepted(BaseModel):
    id: str = Field(description="Job id.")
    status: str = Field(description="queued, running, done or failed.")
    status_url: str = Field(description="Where to follow its progress.")


class JobStatus(BaseModel):
    id: str = Field(description="Job id.")
    collection: str = Field(description="Target collection.")
    status: Literal["queued", "running", "done", "failed", "interrupted"] = Field(
        description="queued, running, done, failed, or interrupted (its process stopped)."
    )
    files_total: int = Field(description="Files in the upload.")
    files_done: int = Field(description="Files finished (stored or reported).")
    documents: int = Field(description="Documents stored so far.")
    chunks: int = Field(description="Chunks embedded and stored so far.")
    files: list[FileReport] = Field(description="One report per finished file.")
    errors: list[str] = Field(description="The files that could not be stored, and why.")
    error: str | None = Field(None, description="Why the job failed as a whole.")
    created_at: float = Field(description="Unix time it was accepted.")
    finished_at: float | None = Field(None, description="Unix time it finished.")
