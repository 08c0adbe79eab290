"""Per-key limits: requests per second (a token bucket with a burst) and heavy requests in
flight. Without API keys a client is its address. Beyond a limit: 429 with Retry-After."""

import math
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import send_json_error
from app.api.scopes import OPEN, RouteRule, RouteTable

MAX_TRACKED_CLIENTS = 10_000


@dataclass
class Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One bucket per client: `burst` tokens, refilled at `rate` a second, one per request."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._buckets: dict[str, Bucket] = {}

    def take(self, client: str, now: float) -> float:
        """0 if the request may go now (a token is taken), else the seconds until it may."""
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_CLIENTS:
                self._forget_full(now)
            bucket = self._buckets[client] = Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled: forgetting them changes nothing."""
        for client, bucket in list(self._buckets.items()):
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst:
                del self._buckets[client]
        if len(self._buckets) >= MAX_TRACKED_CLIENTS:
            self._buckets.clear()


def client_identity(scope: Scope) -> str:
    """The key's id, or without keys the client's address."""
    state = scope.get("state") or {}
    key = state.get("key_id")
    if key:
        return f"key:{key}"
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"


class RateLimitMiddleware:
    def __init__(
        self, app: ASGIApp, routes: RouteTable, rps: float, burst: int, max_heavy: int
    ) -> None:
        self.app = app
        self.routes = routes
        self.rps = rps
        self.burst = burst or max(1, math.ceil(2 * rps))
        self.max_heavy = max_heavy
        self.buckets = TokenBuckets(rps, self.burst) if rps > 0 else None
        self.heavy_in_flight: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.buckets is None and not self.max_heavy):
            await self.app(scope, receive, send)
            return
        state = scope.get("state") or {}
        rule: RouteRule | None = (
            state["route_rule"]
            if "route_rule" in state
            else self.routes.find(scope["method"], scope["path"])
        )
        if rule is not None and rule.scope == OPEN:
            await self.app(scope, receive, send)
            return
        client = client_identity(scope)
        if self.buckets is not None:
            wait = self.buckets.take(client, time.monotonic())
            if wait > 0:
                retry = max(1, math.ceil(wait))
                await send_json_error(
                    send,
                    429,
                    "rate_limited",
                    f"rate limit: over {self.rps:g} requests/s (burst {self.burst}) for this "
                    f"client (SEMSEARCH_RATE_LIMIT_RPS); retry after {retry} s",
                    {"Retry-After": str(retry)},
                )
                return
        if not (self.max_heavy and rule is not None and rule.heavy):
            await self.app(scope, receive, send)
            return
        running = self.heavy_in_flight.get(client, 0)
        if running >= self.max_heavy:
            await send_json_error(
                send,
                429,
                "rate_limited",
                f"heavy requests: {self.max_heavy} in flight for this client is the limit "
                "(SEMSEARCH_MAX_HEAVY_PER_KEY); retry when one finishes",
                {"Retry-After": "1"},
            )
            return
        self.heavy_in_flight[client] = running + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = self.heavy_in_flight[client] - 1
            if left:
                self.heavy_in_flight[client] = left
            else:
                del self.heavy_in_flight[client]
