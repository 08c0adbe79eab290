"""Background jobs for large uploads: progress kept in memory while the process lives, and in
a job store (the database) when there is one, readable from any process sharing it."""

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from app.ingest.files import FileOutcome

log = logging.getLogger(__name__)

MAX_FINISHED_JOBS = 1000
# How often a running job's progress is written to the job store: its heartbeat there.
SAVE_INTERVAL_S = 1.0


@dataclass
class Job:
    id: str
    collection: str
    files_total: int
    # queued, running, done, failed; or interrupted, as read from a job store when the
    # process running it stopped
    status: str = "queued"
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

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> "Job":
        fields = {k: v for k, v in body.items() if k != "errors"}
        fields["files"] = [FileOutcome(**f) for f in fields.get("files", [])]
        return cls(**fields)


class JobStore(Protocol):
    """Where job states outlive the process that runs them."""

    def save(self, job_id: str, collection: str, state: dict[str, Any]) -> None: ...

    def load(self, job_id: str) -> dict[str, Any] | None:
        """The job's state; "interrupted" when unfinished and its process no longer saves it."""
        ...

    def forget_old(self) -> None: ...


class JobRunner:
    """Runs each job in a thread of its own; finished jobs are kept for GET /jobs/{id}."""

    def __init__(self, store: JobStore | None = None) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.store = store

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None and self.store is not None:
            state = self.store.load(job_id)
            return Job.from_dict(state) if state else None
        return job

    def _save(self, job: Job) -> None:
        if self.store is None:
            return
        try:
            self.store.save(job.id, job.collection, job.to_dict())
        except Exception as exc:
            log.warning("job %s: state not saved (%s)", job.id, exc)

    def _save_while_running(self, job: Job, finished: threading.Event) -> None:
        while not finished.wait(SAVE_INTERVAL_S):
            self._save(job)

    def submit(self, collection: str, files_total: int, work: Callable[[Job], None]) -> Job:
        job = Job(uuid.uuid4().hex, collection, files_total)
        with self._lock:
            self._forget_old()
            self._jobs[job.id] = job
        self._save(job)

        def run() -> None:
            job.status = "running"
            finished = threading.Event()
            if self.store is not None:
                self._save(job)
                threading.Thread(
                    target=self._save_while_running, args=(job, finished), daemon=True
                ).start()
            try:
                work(job)
                job.status = "done"
            except Exception as exc:
                job.error = f"{type(exc).__name__}: {exc}"
                job.status = "failed"
            finally:
                job.finished_at = time.time()
                finished.set()
                self._save(job)

        threading.Thread(target=run, name=f"semsearch-job-{job.id[:8]}", daemon=True).start()
        return job

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.finished_at is not None]
        for job in sorted(finished, key=lambda j: j.finished_at or 0)[:-MAX_FINISHED_JOBS]:
            del self._jobs[job.id]
        if self.store is not None:
            try:
                self.store.forget_old()
            except Exception as exc:
                log.warning("old jobs not forgotten (%s)", exc)
