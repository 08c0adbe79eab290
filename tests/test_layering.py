"""Arrows point down: the API above the domain, the domain above the store, the models and
text handling. A module imports nothing of the layers above it (docs/architecture.md)."""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
WEB = ("fastapi", "starlette", "uvicorn")


def imported_modules(path: Path) -> set[str]:
    """Modules a file imports, at its top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def offenders(folder: str, forbidden: tuple[str, ...], least: int) -> dict[str, set[str]]:
    """The modules under app/`folder` that import a module starting with one of `forbidden`."""
    modules = sorted((APP / folder).rglob("*.py"))
    assert len(modules) >= least  # the folder is really there
    found = {
        str(m.relative_to(APP)): {
            n for n in imported_modules(m) if n == "app" or n.startswith(forbidden)
        }
        for m in modules
    }
    return {name: names for name, names in found.items() if names}


def test_the_store_imports_neither_the_web_nor_the_api_nor_the_ingest() -> None:
    assert offenders("store", (*WEB, "app.api", "app.ingest", "app.search"), 8) == {}


def test_the_backend_neutral_store_modules_import_no_backend() -> None:
    neutral = ["interface.py", "encoding.py", "ranking.py", "filters.py"]
    found = {
        name: {n for n in imported_modules(APP / "store" / name) if "embedded" in n}
        for name in neutral
    }
    assert {name: names for name, names in found.items() if names} == {}


def test_the_models_know_nothing_of_the_web() -> None:
    assert offenders("models", (*WEB, "app.api", "app.store", "app.search"), 5) == {}


def test_text_handling_imports_nothing_else_of_the_app() -> None:
    others = tuple(f"app.{p.stem}" for p in APP.iterdir() if p.stem not in ("text", "__init__"))
    assert offenders("text", others, 2) == {}


def test_the_domain_errors_import_no_web_framework() -> None:
    assert imported_modules(APP / "errors.py") & {*WEB, "fastapi.responses"} == set()


def test_no_route_module_imports_another() -> None:
    routes = sorted((APP / "api" / "routes").glob("*.py"))
    found = {
        p.name: {n for n in imported_modules(p) if n.startswith("app.api.routes")}
        for p in routes
        if p.name != "__init__.py"
    }
    assert len(found) > 8
    assert {name: names for name, names in found.items() if names} == {}
