"""Upload jobs in the database: readable from any process sharing it, and a job whose process
is gone reported "interrupted" instead of "running" forever."""

import threading
import time
from collections.abc import Iterator

import pytest

from app.jobs import Job, JobRunner
from app.store.postgres.database import Database
from app.store.postgres.jobs import PgJobStore


@pytest.fixture(scope="module")
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url, pool_size=2)
    database.open()
    yield database
    database.close()


def wait_for(runner: JobRunner, job_id: str, status: str) -> Job | None:
    """The job as `runner` reads it, once it reaches `status` (bounded: 30 s)."""
    job = None
    for _ in range(300):
        job = runner.get(job_id)
        if job is not None and job.status == status:
            break
        time.sleep(0.1)
    return job


def silence(db: Database, job_id: str, seconds: int) -> None:
    """Date the job's last heartbeat `seconds` back, as if its process stopped then."""
    db.run(
        lambda conn: conn.execute(
            "UPDATE semsearch_jobs SET updated_at = now() - make_interval(secs => %s) "
            "WHERE id = %s",
            (seconds, job_id),
        )
    )


def test_a_running_job_is_reported_running_by_another_process(db: Database) -> None:
    mine, other = JobRunner(PgJobStore(db)), JobRunner(PgJobStore(db))
    release = threading.Event()

    def work(job: Job) -> None:
        job.files_done = 1
        release.wait(30)

    job = mine.submit("docs", 2, work)
    seen = wait_for(other, job.id, "running")
    assert seen is not None and seen.status == "running" and seen.error is None
    release.set()
    done = wait_for(other, job.id, "done")
    assert done is not None and done.status == "done" and done.files_done == 1


def test_a_job_whose_process_is_gone_is_interrupted(db: Database) -> None:
    store = PgJobStore(db)
    gone = Job("a" * 32, "docs", 3, status="running", files_done=1)
    store.save(gone.id, gone.collection, gone.to_dict())
    silence(db, gone.id, 3600)
    job = JobRunner(PgJobStore(db)).get(gone.id)
    assert job is not None
    assert job.status == "interrupted"
    assert job.files_done == 1 and job.finished_at is None
    assert job.error is not None and "process running the job stopped" in job.error


def test_a_recent_heartbeat_keeps_a_job_running(db: Database) -> None:
    store = PgJobStore(db, stale_after_s=3600)
    alive = Job("b" * 32, "docs", 3, status="running")
    store.save(alive.id, alive.collection, alive.to_dict())
    silence(db, alive.id, 60)
    state = store.load(alive.id)
    assert state is not None and state["status"] == "running"


def test_a_finished_job_stays_finished_however_old(db: Database) -> None:
    store = PgJobStore(db)
    for status in ("done", "failed"):
        old = Job(status.ljust(32, "0"), "docs", 1, status=status, finished_at=time.time())
        store.save(old.id, old.collection, old.to_dict())
        silence(db, old.id, 86_400)
        state = store.load(old.id)
        assert state is not None and state["status"] == status


def test_an_unknown_job_is_none(db: Database) -> None:
    assert PgJobStore(db).load("c" * 32) is None
