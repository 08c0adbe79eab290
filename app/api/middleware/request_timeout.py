"""A limit on the time to the start of a response: 408 beyond it.

When the limit passes before the application has started its response, the client gets a 408
at once; the application then sees a client that went away (its generations stop) and whatever
it still sends is dropped. Work already handed to a worker thread (an ingest) runs to its end,
so a write answered 408 may still be stored: retry it, ids make that safe. A response that has
started (a stream of generated text) is never cut.
"""

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import send_json_error

log = logging.getLogger(__name__)


class RequestTimeoutMiddleware:
    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.timeout_s:
            await self.app(scope, receive, send)
            return
        started = False
        timed_out = False
        reply: asyncio.Task[None] | None = None

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def guarded_receive() -> Message:
            if timed_out:
                return {"type": "http.disconnect"}
            return await receive()

        def expire() -> None:
            nonlocal timed_out, reply
            if started:
                return
            timed_out = True
            reply = asyncio.ensure_future(
                send_json_error(
                    send,
                    408,
                    "request_timeout",
                    f"request: no response within the limit of {self.timeout_s:g} s "
                    "(SEMSEARCH_REQUEST_TIMEOUT_S)",
                    {"Connection": "close"},
                )
            )

        timer = asyncio.get_running_loop().call_later(self.timeout_s, expire)
        try:
            await self.app(scope, guarded_receive, guarded_send)
        except Exception:
            if not timed_out:
                raise
            log.warning("request ended with an error after its 408", exc_info=True)
        finally:
            timer.cancel()
            if reply is not None:
                await reply
