"""Who may call each route, declared where the route is declared.

A route states its API key scope in its decorator with `openapi_extra=needs("write")`, and
whether it is heavy (it runs a generation or translation model or parses uploaded files: the
per-key concurrency limit counts those). At start, `RouteTable.from_app` reads every route of
the app into the table the key check, the rate limiter and the request log use. A route that
declares no scope needs `admin` (closed by default); FastAPI's own pages (/docs, /redoc,
/openapi.json) are open.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount, Route

SCOPES = ("read", "write", "admin")
"""Each scope allows everything the ones before it allow."""

OPEN = "open"
"""Pseudo-scope of routes anyone may call: probes, the API's description, the web page."""

SCOPE_FIELD = "x-scope"
HEAVY_FIELD = "x-heavy"
UNDECLARED = "admin"


def needs(scope: str, heavy: bool = False) -> dict[str, Any]:
    """The `openapi_extra` of a route that needs `scope`; the scope shows in the OpenAPI."""
    if scope not in (*SCOPES, OPEN):
        raise ValueError(f"unknown scope {scope!r}")
    extra: dict[str, Any] = {SCOPE_FIELD: scope}
    if heavy:
        extra[HEAVY_FIELD] = True
    return extra


@dataclass(frozen=True)
class RouteRule:
    methods: frozenset[str] | None  # None: any method
    pattern: str  # the route's path template: names the route in logs and metrics
    scope: str
    heavy: bool
    regex: re.Pattern[str]

    def matches(self, method: str, path: str) -> bool:
        return (self.methods is None or method in self.methods) and bool(self.regex.match(path))


def declared(route: APIRoute) -> tuple[str, bool]:
    extra = route.openapi_extra or {}
    return extra.get(SCOPE_FIELD, UNDECLARED), bool(extra.get(HEAVY_FIELD, False))


class RouteTable:
    """The rules of the app's routes, first match wins."""

    def __init__(self, rules: list[RouteRule]) -> None:
        self.rules = rules

    @classmethod
    def from_app(cls, app: FastAPI, routers: Iterable[APIRouter]) -> "RouteTable":
        """The app's own routes (FastAPI's pages) and those of `routers`, which the app
        includes without a prefix of its own, so their paths are the paths served."""
        open_paths = {
            app.openapi_url,
            app.docs_url,
            app.redoc_url,
            app.swagger_ui_oauth2_redirect_url,
        }
        routes: list[BaseRoute] = [r for r in app.router.routes if isinstance(r, (Route, Mount))]
        routes += [r for router in routers for r in router.routes]
        return cls.from_routes(routes, open_paths)

    @classmethod
    def from_routes(cls, routes: list[BaseRoute], open_paths: set[str | None]) -> "RouteTable":
        rules = []
        for route in routes:
            if isinstance(route, APIRoute):
                scope, heavy = declared(route)
                methods = frozenset(route.methods or ())
            elif isinstance(route, Route):
                scope, heavy = (OPEN if route.path in open_paths else UNDECLARED), False
                methods = frozenset(route.methods or ())
            elif isinstance(route, Mount):
                scope, heavy, methods = OPEN, False, None
            else:
                continue
            rules.append(RouteRule(methods, route.path, scope, heavy, route.path_regex))
        return cls(rules)

    def find(self, method: str, path: str) -> RouteRule | None:
        """The first rule for this method and path; HEAD is read as GET."""
        if method == "HEAD":
            method = "GET"
        for rule in self.rules:
            if rule.matches(method, path):
                return rule
        return None

    def methods_for(self, path: str) -> set[str]:
        """The methods of the routes that name this path most closely (the fewest path
        parameters: `/documents/count` before `/documents/{doc_id}`): the Allow header of a
        405."""
        matching = [r for r in self.rules if r.methods is not None and r.regex.match(path)]
        if not matching:
            return set()
        fewest = min(r.pattern.count("{") for r in matching)
        return {m for r in matching if r.pattern.count("{") == fewest for m in r.methods or ()}


def scope_allows(granted: str, needed: str) -> bool:
    """Whether a key of scope `granted` may call a route that needs `needed`."""
    if needed == OPEN:
        return True
    return SCOPES.index(granted) >= SCOPES.index(needed)
