"""Schemathesis runs every check it has against a live server with API keys on: the schema
states what the API enforces, so every request it generates from the schema is accepted, every
request that breaks it is refused, and every reply matches its declared shape. Generation
(/generate, chat, ask) is left out: its replies depend on the decoder's sampling and take long.
The run is bounded: few examples per operation, deterministic, small limits on the server."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ServerProcess

ADMIN_KEY = "schema-admin-key-0123456789abcdef"
EXAMPLES_PER_OPERATION = 10
RUN_TIMEOUT_S = 300  # a stuck run fails the test instead of hanging it
EXCLUDED = "/generate|/v1/chat|/ask"

# Small limits: the boundary cases schemathesis tries (the longest text, the most documents)
# stay quick to embed.
SERVER_ENV = {
    "SEMSEARCH_API_KEYS": f"{ADMIN_KEY}:admin",
    "SEMSEARCH_MAX_TEXT_CHARS": "2000",
    "SEMSEARCH_MAX_BATCH_DOCUMENTS": "4",
    "SEMSEARCH_MAX_EMBED_TEXTS": "4",
    "SEMSEARCH_MAX_QUERIES": "4",
    "SEMSEARCH_MAX_K": "20",
    "SEMSEARCH_MAX_PAGE_SIZE": "20",
    "SEMSEARCH_MAX_TRANSLATE_TEXTS": "2",
    "SEMSEARCH_MAX_TRANSLATE_CHARS": "64",
}


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("schemathesis") / "data", env=SERVER_ENV)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.mark.slow
def test_every_check_passes_on_every_operation_but_generation(
    keyed_server: ServerProcess, tmp_path: Path
) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{keyed_server.url}/openapi.json",
        "--checks", "all",
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--generation-deterministic",
        "--exclude-path-regex", EXCLUDED,
        "--header", f"Authorization: Bearer {ADMIN_KEY}",
        "--request-timeout", "60",
        "--no-color",
    ]  # fmt: skip
    # Run in an empty folder: schemathesis keeps a cache of past failures where it runs.
    run = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S
    )
    report = (run.stdout + run.stderr)[-8000:]
    assert run.returncode == 0, report
    assert ADMIN_KEY not in keyed_server.log()
