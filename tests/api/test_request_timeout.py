"""The request time limit: 408 naming the limit before a response starts; a started stream is
never cut; the application sees a client that went away."""

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from app.api.middleware.request_timeout import RequestTimeoutMiddleware
from app.config import Settings
from app.main import create_app

LIMIT_S = 0.05
LONGER_S = 0.3  # than the limit: each test waits on an event loop timer set after the limit's


def http_scope(method: str = "GET", path: str = "/") -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "scheme": "http",
        "http_version": "1.1",
    }


class Exchange:
    """One request's receive and send, behaving as uvicorn does: once the response is complete,
    receive says the client disconnected."""

    def __init__(self, body_parts: list[bytes]) -> None:
        self.parts = list(body_parts)
        self.sent: list[Message] = []
        self.complete = asyncio.Event()

    async def receive(self) -> Message:
        if self.parts:
            part = self.parts.pop(0)
            return {"type": "http.request", "body": part, "more_body": True}
        await asyncio.wait_for(self.complete.wait(), timeout=10)
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.complete.set()

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])


def test_a_slow_answer_is_408_naming_the_limit() -> None:
    seen: list[Message] = []

    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(LONGER_S)
        seen.append(await receive())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"late"})

    async def scenario() -> Exchange:
        exchange = Exchange([])
        await RequestTimeoutMiddleware(slow, LIMIT_S)(http_scope(), exchange.receive, exchange.send)
        return exchange

    exchange = asyncio.run(scenario())
    assert exchange.status == 408
    error = json.loads(exchange.body)["error"]
    assert error["code"] == "request_timeout"
    assert "SEMSEARCH_REQUEST_TIMEOUT_S" in error["message"] and "0.05 s" in error["message"]
    assert b"late" not in exchange.body  # what the application sent later was dropped
    assert seen == [{"type": "http.disconnect"}]  # and it saw the client gone


def test_a_started_stream_is_not_cut() -> None:
    async def stream(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first ", "more_body": True})
        await asyncio.sleep(LONGER_S)
        await send({"type": "http.response.body", "body": b"last"})

    async def scenario() -> Exchange:
        exchange = Exchange([])
        await RequestTimeoutMiddleware(stream, LIMIT_S)(
            http_scope(), exchange.receive, exchange.send
        )
        return exchange

    exchange = asyncio.run(scenario())
    assert exchange.status == 200 and exchange.body == b"first last"


def test_zero_turns_the_limit_off() -> None:
    async def slow(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(LONGER_S)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def scenario() -> Exchange:
        exchange = Exchange([])
        await RequestTimeoutMiddleware(slow, 0)(http_scope(), exchange.receive, exchange.send)
        return exchange

    assert asyncio.run(scenario()).status == 200


def test_the_service_answers_408_to_a_body_that_never_ends(tmp_path: Path) -> None:
    """The whole app: a client that sends half a body gets a 408 with a request id, and the
    request is logged and counted as 408."""
    app = create_app(Settings(data_dir=tmp_path / "data", request_timeout_s=LIMIT_S))

    async def scenario() -> Exchange:
        exchange = Exchange([b'{"texts": ["a cat'])
        await app(http_scope("POST", "/embed"), exchange.receive, exchange.send)
        return exchange

    exchange = asyncio.run(scenario())
    assert exchange.status == 408
    headers = dict(exchange.sent[0]["headers"])
    assert headers[b"x-request-id"]
    assert json.loads(exchange.body)["error"]["code"] == "request_timeout"
    metrics = app.state.metrics.exposition().decode()
    assert 'route="/embed",status="408"' in metrics


def test_settings_refuse_a_negative_limit() -> None:
    with pytest.raises(ValueError, match="request_timeout_s"):
        Settings(request_timeout_s=-1)
