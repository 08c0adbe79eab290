"""Schemathesis fuzzes every operation of the live /openapi.json: no request may get a 5xx or
bring the server down. The examples per operation are bounded, and so is each request's time;
the limits of the fuzzed server are small so that the model endpoints answer fast."""

import json
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from app.api.middleware.keys import key_id
from app.config import Settings
from app.main import create_app
from tests.helpers import ServerProcess

EXAMPLES_PER_OPERATION = 12
REQUEST_TIMEOUT_S = 30
ADMIN_KEY = "fuzz-admin-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
OPEN_ROUTES = {"/health", "/ready", "/openapi.json", "/docs", "/redoc"}  # no key is checked

FUZZ_ENV = {
    "SEMSEARCH_MAX_NEW_TOKENS": "2",
    "SEMSEARCH_MAX_PROMPT_TOKENS": "32",
    "SEMSEARCH_MAX_TRANSLATE_TEXTS": "2",
    "SEMSEARCH_MAX_TRANSLATE_CHARS": "64",
    "SEMSEARCH_MAX_BATCH_DOCUMENTS": "4",
    "SEMSEARCH_MAX_TEXT_CHARS": "2000",
    "SEMSEARCH_MAX_EMBED_TEXTS": "4",
    "SEMSEARCH_MAX_QUERIES": "4",
    "SEMSEARCH_MAX_K": "20",
    "SEMSEARCH_MAX_PAGE_SIZE": "20",
    "SEMSEARCH_MAX_BODY_BYTES": "65536",
    "SEMSEARCH_REQUEST_TIMEOUT_S": "20",
    "SEMSEARCH_API_KEYS": f"{ADMIN_KEY}:admin",
}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data", env=FUZZ_ENV).start()
    try:
        with httpx.Client(base_url=proc.url, timeout=60, headers=AUTH) as http:
            # A collection with documents, so that searches and reads have something to find.
            docs = [{"id": str(i), "text": f"document number {i} about cats"} for i in range(3)]
            r = http.post("/collections/docs/documents", json={"documents": docs})
            assert r.status_code == 200, r.text
        yield proc
    finally:
        proc.stop()


def operations() -> list[tuple[str, str]]:
    """(method, path) of every operation, from the app's own description."""
    spec = create_app(Settings()).openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ServerProcess) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


@pytest.mark.parametrize(("method", "path"), operations(), ids=lambda v: str(v))
def test_no_request_gets_a_server_error(
    api_schema: schemathesis.BaseSchema, method: str, path: str
) -> None:
    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=AUTH, checks=[not_a_server_error], timeout=REQUEST_TIMEOUT_S)

    fuzz()


def test_the_server_survives_the_fuzzing(fuzz_server: ServerProcess) -> None:
    assert fuzz_server.proc is not None and fuzz_server.proc.poll() is None
    assert httpx.get(f"{fuzz_server.url}/health", timeout=10).json() == {"status": "ok"}
    assert httpx.get(f"{fuzz_server.url}/ready", timeout=10).status_code == 200


def test_its_log_is_json_lines_without_the_key(fuzz_server: ServerProcess) -> None:
    text = fuzz_server.log_path.read_text(errors="replace")
    assert ADMIN_KEY not in text
    requests = []
    for line in text.split("\n"):
        if line.startswith("{"):
            entry = json.loads(line)
            if entry["logger"] == "semsearch.access":
                requests.append(entry)
    assert len(requests) > 100
    # Negative cases leave the key out now and then: those are 401 and name no key.
    keyed = [r for r in requests if r["route"] not in OPEN_ROUTES]
    assert keyed and all(
        r["key_id"] == (None if r["status"] == 401 else key_id(ADMIN_KEY)) for r in keyed
    )
    served = [r["status"] for r in requests if r["route"] != "/ready"]  # 503 while loading
    assert set(served) <= set(range(200, 500))
