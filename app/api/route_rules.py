"""What each route needs: the API key scope that may call it, and whether it is heavy.

One table, matched by method and path pattern, first match wins. A route of the app that no
rule covers needs `admin` (closed by default); tests/api/test_auth.py checks that every route
has a rule. Heavy routes run a generation or translation model or parse uploaded files; the
per-key concurrency limit counts them.
"""

import re
from dataclasses import dataclass, field

from starlette.routing import compile_path

SCOPES = ("read", "write", "admin")
"""Each scope allows everything the ones before it allow."""

OPEN = "open"
"""Pseudo-scope of routes anyone may call: probes and the API's own description."""


@dataclass(frozen=True)
class RouteRule:
    methods: frozenset[str] | None  # None: any method
    pattern: str
    scope: str
    heavy: bool = False
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", compile_path(self.pattern)[0])


def _rule(methods: str, pattern: str, scope: str, heavy: bool = False) -> RouteRule:
    names = frozenset(methods.split()) if methods != "*" else None
    return RouteRule(names, pattern, scope, heavy)


RULES: tuple[RouteRule, ...] = (
    # probes and the API description
    _rule("GET", "/health", OPEN),
    _rule("GET", "/ready", OPEN),
    _rule("GET", "/openapi.json", OPEN),
    _rule("GET", "/docs", OPEN),
    _rule("GET", "/docs/oauth2-redirect", OPEN),
    _rule("GET", "/redoc", OPEN),
    # snapshots, and anything below them
    _rule("POST", "/collections/{name}/snapshot", "admin"),
    _rule("GET", "/collections/{name}/snapshots", "admin"),
    _rule("*", "/collections/{name}/snapshot{rest:path}", "admin"),
    _rule("*", "/snapshots{rest:path}", "admin"),
    # writes
    _rule("POST", "/collections", "write"),
    _rule("DELETE", "/collections/{name}", "write"),
    _rule("POST", "/collections/{name}/documents", "write"),
    _rule("DELETE", "/collections/{name}/documents/{doc_id:path}", "write"),
    _rule("POST", "/collections/{name}/files", "write", heavy=True),
    # reads
    _rule("GET", "/metrics", "read"),
    _rule("GET", "/collections", "read"),
    _rule("GET", "/collections/{name}", "read"),
    _rule("GET", "/collections/{name}/documents", "read"),
    _rule("GET", "/collections/{name}/documents/{doc_id:path}", "read"),
    _rule("GET POST", "/collections/{name}/search", "read"),
    _rule("POST", "/collections/{name}/ask", "read", heavy=True),
    _rule("GET", "/jobs/{job_id}", "read"),
    _rule("POST", "/embed", "read"),
    _rule("POST", "/v1/embeddings", "read"),
    _rule("GET", "/models", "read"),
    _rule("POST", "/generate", "read", heavy=True),
    _rule("POST", "/v1/chat/completions", "read", heavy=True),
    _rule("POST", "/translate", "read", heavy=True),
    _rule("GET", "/translate/languages", "read"),
)


def find_rule(method: str, path: str) -> RouteRule | None:
    """The first rule for this method and path; HEAD is read as GET."""
    if method == "HEAD":
        method = "GET"
    for rule in RULES:
        if (rule.methods is None or method in rule.methods) and rule.regex.match(path):
            return rule
    return None


def scope_allows(granted: str, needed: str) -> bool:
    """Whether a key of scope `granted` may call a route that needs `needed`."""
    if needed == OPEN:
        return True
    return SCOPES.index(granted) >= SCOPES.index(needed)
