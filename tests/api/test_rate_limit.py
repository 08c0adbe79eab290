"""Per-key rate limits: requests/s with a burst, heavy requests in flight; 429 + Retry-After."""

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from app.api.middleware.rate_limit import RateLimitMiddleware, TokenBuckets
from app.api.routes import ROUTERS
from app.api.scopes import RouteTable
from app.config import Settings
from app.models.encoder import Encoder
from tests.conftest import make_client

ROUTE_TABLE = RouteTable.from_app(FastAPI(), ROUTERS)

KEY_A = "key-a-0123456789abcdef"
KEY_B = "key-b-0123456789abcdef"
# A rate so slow that no token comes back while a test runs: the burst is all there is.
SLOW_RPS = 0.001


@pytest.fixture
def limited(tmp_path: Any, encoder: Encoder) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data",
        snapshot_interval_s=3600,
        api_keys=f"{KEY_A}:read,{KEY_B}:read",
        rate_limit_rps=SLOW_RPS,
        rate_limit_burst=2,
    )
    yield from make_client(settings, encoder)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_over_the_burst_is_429_with_retry_after(limited: TestClient) -> None:
    for _ in range(2):
        assert limited.get("/collections", headers=auth(KEY_A)).status_code == 200
    r = limited.get("/collections", headers=auth(KEY_A))
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert "SEMSEARCH_RATE_LIMIT_RPS" in r.json()["error"]["message"]
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["X-Request-ID"]


def test_each_key_has_its_own_bucket(limited: TestClient) -> None:
    for _ in range(3):
        limited.get("/collections", headers=auth(KEY_A))
    assert limited.get("/collections", headers=auth(KEY_A)).status_code == 429
    assert limited.get("/collections", headers=auth(KEY_B)).status_code == 200


def test_probes_and_refused_keys_spend_nothing(limited: TestClient) -> None:
    for _ in range(5):
        assert limited.get("/health").status_code == 200
        assert limited.get("/collections").status_code == 401
    assert limited.get("/collections", headers=auth(KEY_A)).status_code == 200


def test_without_keys_a_client_address_is_limited(tmp_path: Any, encoder: Encoder) -> None:
    settings = Settings(data_dir=tmp_path / "data", rate_limit_rps=SLOW_RPS, rate_limit_burst=1)
    for c in make_client(settings, encoder):
        assert c.get("/collections").status_code == 200
        assert c.get("/collections").status_code == 429


def test_token_bucket_refills_at_the_rate() -> None:
    buckets = TokenBuckets(rate=2.0, burst=2)
    assert buckets.take("a", 0.0) == 0 and buckets.take("a", 0.0) == 0
    assert buckets.take("a", 0.0) == pytest.approx(0.5)
    assert buckets.take("a", 0.5) == 0  # one token back after 1/rate seconds
    assert buckets.take("b", 0.5) == 0


def test_settings_refuse_negative_limits() -> None:
    with pytest.raises(ValueError, match="rate_limit_rps"):
        Settings(rate_limit_rps=-1)
    with pytest.raises(ValueError, match="max_heavy_per_key"):
        Settings(max_heavy_per_key=-1)


# -- heavy requests in flight, on the middleware alone --------------------------------------
class Gate:
    """An app that holds each request until released, then answers 200."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.entered.set()
        await asyncio.wait_for(self.release.wait(), timeout=10)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def request(app: Any, method: str, path: str, key_id: str) -> list[Message]:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [],
        "client": ("127.0.0.1", 1),
        "state": {"key_id": key_id},
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def status_of(sent: list[Message]) -> int:
    return int(sent[0]["status"])


def test_heavy_requests_in_flight_per_key() -> None:
    async def scenario() -> None:
        gate = Gate()
        limiter = RateLimitMiddleware(gate, ROUTE_TABLE, rps=0, burst=0, max_heavy=1)
        first = asyncio.ensure_future(request(limiter, "POST", "/generate", "a"))
        await asyncio.wait_for(gate.entered.wait(), timeout=10)
        refused = await request(limiter, "POST", "/translate", "a")
        assert status_of(refused) == 429
        headers = dict(refused[0]["headers"])
        assert headers[b"retry-after"] == b"1"
        assert b"SEMSEARCH_MAX_HEAVY_PER_KEY" in refused[1]["body"]
        # Another key, and a light request of the same key, are not held back.
        other = asyncio.ensure_future(request(limiter, "POST", "/generate", "b"))
        light = asyncio.ensure_future(request(limiter, "GET", "/collections", "a"))
        await asyncio.sleep(0)
        gate.release.set()
        assert status_of(await first) == 200
        assert status_of(await other) == 200
        assert status_of(await light) == 200
        # The slot is free again once the first request ended.
        assert status_of(await request(limiter, "POST", "/collections/x/ask", "a")) == 200
        assert limiter.heavy_in_flight == {}

    asyncio.run(scenario())
