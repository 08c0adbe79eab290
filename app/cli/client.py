"""The HTTP client of the commands that talk to a running service: its address and key, the
bearer header, retries and the service's error messages."""

import argparse
import json
import os
import sys
import time
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_DELAYS_S: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
MAX_RETRY_AFTER_S = 30.0
REQUEST_TIMEOUT = httpx.Timeout(300.0, connect=10.0)


class TargetUnavailable(Exception):
    """The service could not be reached, or kept failing through every retry."""


def add_url_argument(parser: "argparse._ActionsContainer") -> None:
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the service (default {DEFAULT_URL})")


def add_api_key_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-key",
        default=os.environ.get("SEMSEARCH_API_KEY"),
        help="key sent as 'Authorization: Bearer KEY' (default: $SEMSEARCH_API_KEY)",
    )


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The bearer header for a service with API keys; none without a key."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def error_message(response: httpx.Response) -> str:
    """The service's error message from a reply, else the start of the body."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text.strip()[:500] or response.reason_phrase
    return f"HTTP {response.status_code}: {message}"


def is_retryable(status: int) -> bool:
    return status >= 500 or status == 429


def retry_after(response: httpx.Response | None) -> float | None:
    """The pause a reply asks for in Retry-After (seconds, at most MAX_RETRY_AFTER_S)."""
    if response is None:
        return None
    try:
        return min(float(response.headers["Retry-After"]), MAX_RETRY_AFTER_S)
    except (KeyError, ValueError):
        return None


class ServiceClient:
    """One service at `url`, with the key's bearer header on every request. `request` retries
    server errors (5xx), 429 and lost connections, pausing as long as Retry-After asks or else
    for the next of `retry_delays`; `send_once` tries once."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        retry_delays: tuple[float, ...] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.retry_delays = RETRY_DELAYS_S if retry_delays is None else retry_delays
        self.client = client or httpx.Client(
            base_url=self.url, timeout=REQUEST_TIMEOUT, headers=auth_headers(api_key)
        )

    def send_once(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The reply to one attempt; a transport error is raised (httpx.TransportError)."""
        return self.client.request(method, path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The reply to a request, retried on 5xx, 429 and transport errors; TargetUnavailable
        once every attempt failed."""
        attempts = len(self.retry_delays) + 1
        for attempt in range(attempts):
            response: httpx.Response | None = None
            try:
                response = self.send_once(method, path, **kwargs)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if not is_retryable(response.status_code):
                    return response
                problem = error_message(response)
            if attempt == attempts - 1:
                raise TargetUnavailable(
                    f"{method} {self.url}{path} failed {attempts} times; last: {problem}"
                )
            time.sleep(retry_after(response) or self.retry_delays[attempt])
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.client.close()


def parse_filter(raw: str, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """`--filter` as a JSON object, or a usage error saying what is wrong."""
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        parser.error(f"--filter is not valid JSON ({exc})")
    if not isinstance(parsed, dict):
        parser.error('--filter must be a JSON object, e.g. {"lang": "en"}')
    return parsed


def post_once(
    args: argparse.Namespace, command: str, path: str, body: dict[str, Any]
) -> httpx.Response | None:
    """POST `body` once to `path` of the service at --url: the reply, or None after printing
    why it failed (unreachable, or a 4xx/5xx with its message)."""
    client = ServiceClient(args.url, args.api_key)
    try:
        response = client.send_once("POST", path, json=body)
    except httpx.HTTPError as exc:
        print(f"semsearch {command}: cannot reach {client.url}: {exc}", file=sys.stderr)
        return None
    finally:
        client.close()
    if response.status_code >= 400:
        print(f"semsearch {command}: {error_message(response)}", file=sys.stderr)
        return None
    return response
