"""API keys with scopes: `Authorization: Bearer KEY`; 401 without a known key, 403 without the
scope. Keys are held only as SHA-256 digests, compared in constant time, and never logged: a key
is named by its id, the first 8 hex digits of its SHA-256."""

import hashlib
import hmac
import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import send_json_error
from app.api.scopes import OPEN, SCOPES, RouteRule, RouteTable, scope_allows
from app.config import Settings

log = logging.getLogger(__name__)

SHORT_KEY_CHARS = 16


class ApiKeyConfigError(ValueError):
    """The configured keys cannot be used; the message says where and why (never the key)."""


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    scope: str
    digest: bytes
    short: bool = False


def key_id(key: str) -> str:
    """How logs and metrics name a key: `printf %s KEY | sha256sum | cut -c1-8`."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]


class ApiKeys:
    """The configured keys; empty means the service runs without authentication."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self.keys = keys

    def __bool__(self) -> bool:
        return bool(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, token: str) -> ApiKey | None:
        """The key equal to `token`. Every key is compared, in constant time, whatever matches:
        the time taken says nothing about which key (or how much of one) was right."""
        digest = hashlib.sha256(token.encode()).digest()
        found: ApiKey | None = None
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest) and found is None:
                found = key
        return found


def parse_entries(entries: list[tuple[str, str]]) -> list[ApiKey]:
    """`(where, "key:scope")` pairs into keys; where names the entry in error messages."""
    keys: dict[bytes, ApiKey] = {}
    for where, entry in entries:
        key, sep, scope = entry.strip().rpartition(":")
        key, scope = key.strip(), scope.strip()
        if not sep:
            raise ApiKeyConfigError(f"{where}: expected key:scope (scope read, write or admin)")
        if not key:
            raise ApiKeyConfigError(f"{where}: the key is empty")
        if any(c.isspace() for c in key):
            raise ApiKeyConfigError(f"{where}: the key contains whitespace")
        if scope not in SCOPES:
            raise ApiKeyConfigError(f"{where}: unknown scope {scope!r}; use {', '.join(SCOPES)}")
        digest = hashlib.sha256(key.encode()).digest()
        if digest in keys:
            raise ApiKeyConfigError(f"{where}: the key {key_id(key)} appears twice")
        keys[digest] = ApiKey(key_id(key), scope, digest, short=len(key) < SHORT_KEY_CHARS)
    return list(keys.values())


def load_api_keys(settings: Settings) -> ApiKeys:
    """Keys from SEMSEARCH_API_KEYS and the lines of SEMSEARCH_API_KEYS_FILE."""
    entries: list[tuple[str, str]] = []
    raw = settings.api_keys.get_secret_value()
    if raw.strip():
        for i, entry in enumerate(raw.split(","), start=1):
            entries.append((f"SEMSEARCH_API_KEYS entry {i}", entry))
    path = settings.api_keys_file
    if path is not None:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ApiKeyConfigError(f"SEMSEARCH_API_KEYS_FILE: cannot read {path}: {exc}") from exc
        for n, line in enumerate(lines, start=1):
            text = line.split("#", 1)[0].strip()
            if text:
                entries.append((f"{path} line {n}", text))
    return ApiKeys(parse_entries(entries))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_about_access(host: str, keys: ApiKeys) -> None:
    """Serving beyond this machine without keys lets anyone read, change and delete data;
    a short key can be guessed."""
    if not keys and not is_loopback(host):
        log.warning(
            "binding %s with no API keys: anyone who can reach this address can read, change "
            "and delete every collection; set SEMSEARCH_API_KEYS or SEMSEARCH_API_KEYS_FILE",
            host,
        )
    for key in keys.keys:
        if key.short:
            log.warning(
                "API key %s is shorter than %d characters; use a long random key",
                key.key_id,
                SHORT_KEY_CHARS,
            )


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            return token.strip()
    return None


class AuthMiddleware:
    """Checks the key and the scope its route declares; stores the key id and the route's rule
    in the request state for the rate limiter and the request log."""

    def __init__(self, app: ASGIApp, keys: ApiKeys, routes: RouteTable) -> None:
        self.app = app
        self.keys = keys
        self.routes = routes

    def needed_scope(self, scope: Scope, rule: RouteRule | None) -> str:
        if rule is not None:
            return rule.scope
        # A path no route serves with this method (a 404 or 405 to come) needs any valid key.
        return "read"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        rule = self.routes.find(scope["method"], scope["path"])
        state["route_rule"] = rule
        if not self.keys:
            await self.app(scope, receive, send)
            return
        needed = self.needed_scope(scope, rule)
        if needed == OPEN:
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        key = self.keys.find(token) if token is not None else None
        if key is None:
            if token is None:
                message = "authorization: missing API key; send 'Authorization: Bearer KEY'"
                challenge = "Bearer"
            else:
                message = "authorization: unknown API key"
                challenge = 'Bearer error="invalid_token"'
            await send_json_error(
                send, 401, "unauthorized", message, {"WWW-Authenticate": challenge}
            )
            return
        state["key_id"] = key.key_id
        if not scope_allows(key.scope, needed):
            await send_json_error(
                send,
                403,
                "forbidden",
                f"authorization: this request needs scope {needed!r}; the key has {key.scope!r}",
                {"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
            )
            return
        await self.app(scope, receive, send)
