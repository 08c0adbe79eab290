"""Upload jobs kept in the database, so that any process serving it can report them and they
outlive the process that ran them."""

from typing import Any

from psycopg.types.json import Jsonb

from app.store.postgres.database import Database

KEEP_JOBS = 1000
# A running job's process records its progress every second (app.jobs.SAVE_INTERVAL_S); a job
# not heard of for this long belongs to a process that is gone.
STALE_AFTER_S = 30.0
UNFINISHED = ("queued", "running")
INTERRUPTED = "interrupted"


class PgJobStore:
    """Job states by id in the semsearch_jobs table. Each save stamps `updated_at` with the
    database's clock, the heartbeat of a running job: one read unchanged for `stale_after_s`
    is reported "interrupted", since the process that ran it stopped (killed, crashed or its
    machine lost) and no other process takes a job over."""

    def __init__(self, db: Database, stale_after_s: float = STALE_AFTER_S) -> None:
        self.db = db
        self.stale_after_s = stale_after_s

    def save(self, job_id: str, collection: str, state: dict[str, Any]) -> None:
        self.db.run(
            lambda conn: conn.execute(
                "INSERT INTO semsearch_jobs (id, collection, state) VALUES (%s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = now()",
                (job_id, collection, Jsonb(state)),
            )
        )

    def load(self, job_id: str) -> dict[str, Any] | None:
        """The job's last recorded state; an unfinished one whose heartbeat stopped comes back
        as "interrupted", with the reason in `error`."""
        row = self.db.run(
            lambda conn: conn.execute(
                "SELECT state, extract(epoch FROM now() - updated_at)::float8 "
                "FROM semsearch_jobs WHERE id = %s",
                (job_id,),
            ).fetchone()
        )
        if row is None:
            return None
        state, silent_s = dict(row[0]), float(row[1])
        if state.get("status") in UNFINISHED and silent_s > self.stale_after_s:
            state["status"] = INTERRUPTED
            state["error"] = (
                f"interrupted: the process running the job stopped (no progress recorded for "
                f"{silent_s:.0f} s, the limit is {self.stale_after_s:g} s); files that were "
                "not reported done must be uploaded again"
            )
        return state

    def forget_old(self) -> None:
        """Keep the newest KEEP_JOBS jobs."""
        self.db.run(
            lambda conn: conn.execute(
                "DELETE FROM semsearch_jobs WHERE id IN (SELECT id FROM semsearch_jobs "
                "ORDER BY updated_at DESC OFFSET %s)",
                (KEEP_JOBS,),
            )
        )
