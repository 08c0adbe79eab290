"""The commands' HTTP client: the key on every request, bounded retries of server errors,
and the service's error message."""

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.cli import main
from app.cli.client import ServiceClient, TargetUnavailable
from app.cli.sinks import BatchRejected, UrlSink
from app.ingest.parsers import ParsedDocument
from tests.cli.conftest import CLI_KEY
from tests.helpers import ServerProcess

Handler = Callable[[httpx.Request], httpx.Response]


def client_with(handle: Handler) -> ServiceClient:
    transport = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://test")
    return ServiceClient("http://test", retry_delays=(0.0, 0.0, 0.0), client=transport)


def replying(
    statuses: list[int], seen: list[int], headers: dict[str, str] | None = None
) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        status = statuses[len(seen)]
        seen.append(status)
        if status == 200:
            return httpx.Response(200, json={"ids": ["a"]})
        body = {"error": {"code": "x", "message": "busy"}}
        return httpx.Response(status, json=body, headers=headers or {})

    return handle


def test_server_errors_are_retried_and_4xx_are_not() -> None:
    document = [ParsedDocument("a", "text", {})]
    seen: list[int] = []
    UrlSink(client_with(replying([503, 500, 200], seen)), "c").send(document)
    assert seen == [503, 500, 200]

    seen = []
    with pytest.raises(BatchRejected, match="HTTP 400: busy"):
        UrlSink(client_with(replying([400], seen)), "c").send(document)
    assert seen == [400]

    seen = []
    with pytest.raises(TargetUnavailable, match="failed 4 times; last: HTTP 500: busy"):
        UrlSink(client_with(replying([500] * 4, seen)), "c").send(document)


def test_a_429_waits_as_long_as_retry_after_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr("app.cli.client.time.sleep", pauses.append)
    seen: list[int] = []
    client = client_with(replying([429, 429, 200], seen, {"Retry-After": "7"}))
    assert client.request("GET", "/x").status_code == 200
    assert pauses == [7.0, 7.0]


def test_a_keyed_service_needs_the_key_from_the_flag_or_the_environment(
    server: ServerProcess,
    docs: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SEMSEARCH_API_KEY", raising=False)
    search = ["search", "cats", "--collection", "keyed", "--url", server.url]
    assert main(search) == 1
    assert "HTTP 401" in capsys.readouterr().err
    assert (
        main(["ingest", str(docs / "cats.txt"), "--collection", "keyed", "--url", server.url]) == 1
    )
    assert "401" in capsys.readouterr().err
    monkeypatch.setenv("SEMSEARCH_API_KEY", CLI_KEY)
    assert (
        main(["ingest", str(docs / "cats.txt"), "--collection", "keyed", "--url", server.url]) == 0
    )
    assert main(search) == 0
    assert "cats.txt" in capsys.readouterr().out
