"""Background jobs for large uploads: progress kept in memory while the process lives."""

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from app.ingest.files import FileOutcome

MAX_FINISHED_JOBS = 1000


@dataclass
class Job:
    id: str
    collection: str
    files_total: int
    status: str = "queued"  # queued, running, done, failed
    files_done: int = 0
    documents: int = 0
    chunks: int = 0
    files: list[FileOutcome] = field(default_factory=list)
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        body = asdict(self)
        body["errors"] = [f.error for f in self.files if f.error]
        return body


class JobRunner:
    """Runs each job in a thread of its own; finished jobs are kept for GET /jobs/{id}."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def submit(self, collection: str, files_total: int, work: Callable[[Job], None]) -> Job:
        job = Job(uuid.uuid4().hex, collection, files_total)
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job

        def run() -> None:
            job.status = "running"
            try:
                work(job)
                job.status = "done"
            except Exception as exc:
                job.error = f"{type(exc).__name__}: {exc}"
                job.status = "failed"
            finally:
                job.finished_at = time.time()

        threading.Thread(target=run, name=f"semsearch-job-{job.id[:8]}", daemon=True).start()
        return job

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished_at is not None]
        for job in sorted(finished, key=lambda j: j.finished_at or 0)[:-MAX_FINISHED_JOBS]:
            del self._jobs[job.id]
