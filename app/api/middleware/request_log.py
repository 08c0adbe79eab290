"""The outermost middleware: a request id on every response, one log line and the metrics of
every request, and a JSON 500 for an error nothing else caught."""

import logging
import random
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import send_json_error
from app.logging_setup import ACCESS_LOGGER, REQUEST_ID
from app.metrics import AppMetrics

access_log = logging.getLogger(ACCESS_LOGGER)

REQUEST_ID_HEADER = b"x-request-id"
REQUEST_ID_PATTERN = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
UNMATCHED_ROUTE = "unmatched"
CLIENT_CLOSED = 499


def request_id_of(scope: Scope) -> str:
    """The client's X-Request-ID when it is 1-128 characters of A-Z a-z 0-9 . _ : -;
    otherwise a new one."""
    for name, value in scope.get("headers") or []:
        if name == REQUEST_ID_HEADER:
            if REQUEST_ID_PATTERN.fullmatch(value):
                return value.decode("ascii")
            break
    return f"{random.getrandbits(128):032x}"  # unique enough, and no system call


def route_template(scope: Scope) -> str:
    """The route's path template, never the raw path, so that metric labels stay few. A request
    refused before routing is labelled by the pattern of its route rule."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    rule = (scope.get("state") or {}).get("route_rule")
    return rule.pattern if rule is not None else UNMATCHED_ROUTE


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, metrics: AppMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = REQUEST_ID.set(request_id)
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        status = 0
        logged = False

        def finish(error: BaseException | None = None) -> None:
            nonlocal logged, status
            if logged:
                return
            logged = True
            seconds = time.perf_counter() - started
            if status == 0:
                status = CLIENT_CLOSED  # the client went away before any response
            route = route_template(scope)
            method = scope["method"]
            self.metrics.observe(route, method, status, seconds)
            level = logging.INFO
            if status >= 500:
                level = logging.WARNING if status == 503 else logging.ERROR
            if not access_log.isEnabledFor(level):
                return
            client = scope.get("client")
            fields = {
                "request_id": request_id,
                "method": method,
                "route": route,
                "path": scope["path"],
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "key_id": (scope.get("state") or {}).get("key_id"),
                "client": client[0] if client else None,
            }
            access_log.log(
                level,
                "%s %s %d",
                method,
                route,
                status,
                extra={"fields": fields},
                exc_info=error,
            )

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), header]}
                await send(message)
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                await send(message)
                finish()
            else:
                await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if status == 0:
                status = 500
                await send_json_error(
                    send,
                    500,
                    "internal_error",
                    f"{type(exc).__name__}: {exc}",
                    {"X-Request-ID": request_id},
                )
            finish(exc)
        finally:
            self.metrics.in_flight.dec()
            # A client that went away mid-response: log what was answered.
            finish()
            REQUEST_ID.reset(token)
