"""The web page: GET /ui serves it from the package's own files, GET / redirects there."""

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from app.api.scopes import OPEN, needs
from app.errors import NotFound

router = APIRouter(include_in_schema=False)

UI_DIR = Path(__file__).resolve().parent.parent.parent / "ui"
FILES = {p.name: p for p in UI_DIR.iterdir() if p.is_file()} if UI_DIR.is_dir() else {}
"""The page's files by name: nothing else under /ui is served."""

HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
}
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def page_file(name: str) -> FileResponse:
    path = FILES.get(name)
    if path is None or path.suffix not in MEDIA_TYPES:
        raise NotFound(f"/ui/{name}: no such file of the web page")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=HEADERS)


@router.get("/", openapi_extra=needs(OPEN))
def root() -> RedirectResponse:
    return RedirectResponse("/ui", status_code=307)


@router.get("/ui", openapi_extra=needs(OPEN))
def page() -> FileResponse:
    return page_file("index.html")


@router.get("/ui/settings.json", openapi_extra=needs(OPEN))
def page_settings(request: Request) -> JSONResponse:
    """What the page must know before its first call: whether the service wants a key."""
    return JSONResponse({"keys": bool(request.app.state.api_keys)}, headers=HEADERS)


@router.get("/ui/{name}", openapi_extra=needs(OPEN))
def static_file(name: str) -> FileResponse:
    return page_file(name)
