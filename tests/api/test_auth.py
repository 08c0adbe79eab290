"""API keys and scopes: 401 without a known key, 403 without the scope, probes stay open."""

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.middleware import keys as auth
from app.api.middleware.keys import ApiKeyConfigError, key_id, load_api_keys, warn_about_access
from app.api.routes import ROUTERS
from app.api.scopes import SCOPE_FIELD, RouteTable
from app.cli.serve import serve
from app.config import Settings
from app.main import create_app
from app.models.encoder import Encoder
from tests.conftest import make_client

READ_KEY = "read-key-0123456789abcdef"
WRITE_KEY = "write-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"
KEYS = f"{READ_KEY}:read, {WRITE_KEY}:write,{ADMIN_KEY}:admin"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, encoder: Encoder) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("auth") / "data", snapshot_interval_s=3600, api_keys=KEYS
    )
    yield from make_client(settings, encoder)


def assert_error(r: Any, status: int, code: str, *words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    for word in words:
        assert word in body["error"]["message"]


@pytest.mark.parametrize("path", ["/health", "/ready", "/openapi.json", "/docs"])
def test_probes_and_the_api_description_need_no_key(keyed: TestClient, path: str) -> None:
    assert keyed.get(path).status_code == 200


def test_no_key_is_401_with_a_bearer_challenge(keyed: TestClient) -> None:
    r = keyed.get("/collections")
    assert_error(r, 401, "unauthorized", "Authorization: Bearer")
    assert r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {READ_KEY}x",
        f"Bearer {READ_KEY[:-1]}",
        "Bearer ",
        f"Basic {READ_KEY}",
        READ_KEY,
        f"bearer  {READ_KEY.upper()}",
    ],
)
def test_an_unknown_or_malformed_key_is_401(keyed: TestClient, header: str) -> None:
    r = keyed.get("/collections", headers={"Authorization": header})
    assert_error(r, 401, "unauthorized", "authorization")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_scheme_is_case_insensitive(keyed: TestClient) -> None:
    r = keyed.get("/collections", headers={"Authorization": f"bearer {READ_KEY}"})
    assert r.status_code == 200


# (method, path, body) of representative routes, by the scope they need.
READS = [
    ("GET", "/collections", None),
    ("GET", "/collections/base", None),
    ("GET", "/collections/base/documents", None),
    ("GET", "/collections/base/documents/d1", None),
    ("POST", "/collections/base/search", {"query": "cats"}),
    ("GET", "/collections/base/search?q=cats", None),
    ("POST", "/embed", {"texts": ["a cat"]}),
    ("POST", "/v1/embeddings", {"input": "a cat"}),
    ("GET", "/models", None),
    ("GET", "/metrics", None),
]
WRITES = [
    ("POST", "/collections", {"name": "made"}),
    ("POST", "/collections/base/documents", {"documents": [{"id": "d2", "text": "a dog"}]}),
    ("DELETE", "/collections/base/documents/d2", None),
    ("DELETE", "/collections/made", None),
]
ADMINS = [("POST", "/collections/base/snapshot", None)]


def call(c: TestClient, method: str, path: str, body: object, key: str | None) -> Any:
    headers = bearer(key) if key else {}
    return c.request(method, path, json=body, headers=headers)


@pytest.fixture(scope="module")
def base(keyed: TestClient) -> TestClient:
    r = keyed.post(
        "/collections/base/documents",
        json={"documents": [{"id": "d1", "text": "a cat on a mat"}]},
        headers=bearer(WRITE_KEY),
    )
    assert r.status_code == 200, r.text
    return keyed


@pytest.mark.parametrize(("method", "path", "body"), READS)
def test_read_routes(base: TestClient, method: str, path: str, body: object) -> None:
    assert_error(call(base, method, path, body, None), 401, "unauthorized")
    r = call(base, method, path, body, READ_KEY)
    assert r.status_code == 200, r.text


def test_higher_scopes_can_read(base: TestClient) -> None:
    for key in (WRITE_KEY, ADMIN_KEY):
        assert base.get("/collections/base/documents/d1", headers=bearer(key)).status_code == 200


def test_write_routes(base: TestClient) -> None:
    for method, path, body in WRITES:
        assert_error(call(base, method, path, body, None), 401, "unauthorized")
        r = call(base, method, path, body, READ_KEY)
        assert_error(r, 403, "forbidden", "'write'", "'read'")
        assert 'scope="write"' in r.headers["WWW-Authenticate"]
    # In order: create, ingest, delete the document, delete the collection.
    for (method, path, body), key in zip(
        WRITES, [WRITE_KEY, ADMIN_KEY, WRITE_KEY, ADMIN_KEY], strict=True
    ):
        r = call(base, method, path, body, key)
        assert r.status_code in (200, 201, 204), (path, r.text)


def test_snapshots_need_admin(base: TestClient) -> None:
    for method, path, body in ADMINS:
        assert_error(call(base, method, path, body, None), 401, "unauthorized")
        for key in (READ_KEY, WRITE_KEY):
            assert_error(call(base, method, path, body, key), 403, "forbidden", "'admin'")
        r = call(base, method, path, body, ADMIN_KEY)
        assert r.status_code not in (401, 403), r.text
    assert scope_of(base, "GET", "/collections/{name}/snapshots") == "admin"


def test_heavy_routes_need_read(base: TestClient) -> None:
    """Generation and translation are reads: refused without a key, before any model loads."""
    for method, path, body in [
        ("POST", "/generate", {"prompt": "Hi"}),
        ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi"}]}),
        ("POST", "/translate", {"text": "Hi", "source": "en", "target": "pt"}),
        ("POST", "/collections/base/ask", {"question": "Hi"}),
    ]:
        assert_error(call(base, method, path, body, None), 401, "unauthorized")
        assert routes(base).find(method, path).scope == "read"  # type: ignore[union-attr]


def test_unknown_paths_are_404_for_any_valid_key(base: TestClient) -> None:
    assert_error(base.get("/nowhere"), 401, "unauthorized")
    assert base.get("/nowhere", headers=bearer(READ_KEY)).status_code == 404
    assert base.put("/collections", headers=bearer(READ_KEY)).status_code == 405


def test_every_route_declares_its_scope(base: TestClient) -> None:
    """A route declares its scope where it is declared (one that does not would need admin)."""
    undeclared = [
        f"{sorted(route.methods)} {route.path}"
        for router in ROUTERS
        for route in router.routes
        if SCOPE_FIELD not in (getattr(route, "openapi_extra", None) or {})
    ]
    assert undeclared == []


def test_the_key_table_is_built_from_the_app_routes(base: TestClient) -> None:
    """Each operation of the API description has its rule, named by its own path template
    (the name logs and metrics use when a request is refused before routing)."""
    spec = base.get("/openapi.json").json()
    table = routes(base)
    missing, other_pattern = [], []
    for path, ops in spec["paths"].items():
        for method in ops:
            rule = table.find(method.upper(), path)
            if rule is None:
                missing.append(f"{method.upper()} {path}")
            elif rule.pattern.replace(":path}", "}") != path:
                other_pattern.append(f"{method.upper()} {path}: {rule.pattern}")
    assert missing == [] and other_pattern == []


def test_a_route_without_a_declared_scope_needs_admin() -> None:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/undeclared")
    def undeclared() -> dict[str, str]:
        return {}

    rule = RouteTable.from_app(app, []).find("GET", "/undeclared")
    assert rule is not None and rule.scope == "admin"
    assert RouteTable.from_app(app, []).find("GET", "/docs").scope == "open"  # type: ignore[union-attr]


def routes(client: TestClient) -> RouteTable:
    return RouteTable.from_app(client.app, ROUTERS)  # type: ignore[arg-type]


def scope_of(client: TestClient, method: str, template: str) -> str:
    spec = client.get("/openapi.json").json()
    return str(spec["paths"][template][method.lower()][SCOPE_FIELD])


def test_openapi_declares_the_bearer_scheme(base: TestClient) -> None:
    spec = base.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert spec["paths"]["/health"]["get"]["security"] == []
    create = spec["paths"]["/collections"]["post"]
    assert create["security"] == [{"bearerAuth": []}]
    assert "`write`" in create["description"]
    assert {"401", "403", "429"} <= set(create["responses"])


def test_without_keys_the_openapi_asks_for_none(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "securitySchemes" not in spec.get("components", {})
    create = spec["paths"]["/collections"]["post"]
    assert "security" not in create and "401" not in create["responses"]


def test_keys_never_reach_the_logs(
    base: TestClient, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    for key in (READ_KEY, WRITE_KEY, ADMIN_KEY, "wrong-key-0123456789"):
        base.get("/collections", headers=bearer(key))
        base.post("/collections", json={"name": "x y"}, headers=bearer(key))
    warn_about_access("0.0.0.0", load_api_keys(Settings(api_keys="short:read")))
    with pytest.raises(ApiKeyConfigError) as bad:
        load_api_keys(Settings(api_keys=f"{READ_KEY}:reed"))
    text = caplog.text + str(bad.value)
    text += "".join(str(getattr(rec, "fields", "")) for rec in caplog.records)
    for key in (READ_KEY, WRITE_KEY, ADMIN_KEY, "wrong-key-0123456789", "short:"):
        assert key not in text
    ids = {getattr(rec, "fields", {}).get("key_id") for rec in caplog.records}
    assert {key_id(READ_KEY), key_id(WRITE_KEY), key_id(ADMIN_KEY)} <= ids
    assert Settings(api_keys=KEYS).model_dump_json().count(READ_KEY) == 0


def test_every_key_is_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: the first key matching costs as many comparisons as no key matching."""
    keys = load_api_keys(Settings(api_keys=KEYS))
    calls: list[int] = []
    real = auth.hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    assert keys.find(READ_KEY) is not None
    first = len(calls)
    calls.clear()
    assert keys.find("no-such-key") is None
    assert first == len(calls) == 3


def test_keys_file_with_comments(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(
        f"# service keys\n\n{READ_KEY}:read  # the dashboard\n  {ADMIN_KEY} : admin\n",
        encoding="utf-8",
    )
    keys = load_api_keys(Settings(api_keys=f"{WRITE_KEY}:write", api_keys_file=path))
    assert sorted(k.scope for k in keys.keys) == ["admin", "read", "write"]
    assert keys.find(ADMIN_KEY).scope == "admin"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (f"{READ_KEY}:reed", ["entry 1", "unknown scope 'reed'", "read, write, admin"]),
        (f"{READ_KEY}:read,:write", ["entry 2", "empty"]),
        (f"{READ_KEY}:read,,", ["entry 2", "key:scope"]),
        (f"{READ_KEY}", ["entry 1", "key:scope"]),
        ("two words:read", ["entry 1", "whitespace"]),
        (f"{READ_KEY}:read,{READ_KEY}:admin", ["entry 2", "twice", key_id(READ_KEY)]),
    ],
)
def test_bad_key_configuration_fails_at_start(raw: str, words: list[str], tmp_path: Path) -> None:
    settings = Settings(api_keys=raw, data_dir=tmp_path)
    with pytest.raises(ApiKeyConfigError) as err:
        create_app(settings)
    for word in words:
        assert word in str(err.value)
    assert READ_KEY not in str(err.value)


def test_bad_keys_file_fails_at_start(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(ApiKeyConfigError, match="cannot read"):
        load_api_keys(Settings(api_keys_file=missing))
    bad = tmp_path / "keys"
    bad.write_text(f"{READ_KEY}:read\n{WRITE_KEY}:writer\n", encoding="utf-8")
    with pytest.raises(ApiKeyConfigError, match=r"keys line 2: unknown scope 'writer'"):
        load_api_keys(Settings(api_keys_file=bad))


def test_binding_beyond_loopback_without_keys_warns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="app.api.middleware.keys")
    no_keys = load_api_keys(Settings())
    for host in ("127.0.0.1", "localhost", "::1"):
        warn_about_access(host, no_keys)
    assert caplog.records == []
    warn_about_access("0.0.0.0", no_keys)
    assert "0.0.0.0" in caplog.text and "SEMSEARCH_API_KEYS" in caplog.text
    caplog.clear()
    warn_about_access("0.0.0.0", load_api_keys(Settings(api_keys=KEYS)))
    assert caplog.records == []


def test_without_keys_everything_is_open(client: TestClient) -> None:
    assert client.get("/collections").status_code == 200
    assert client.post("/collections", json={"name": "free"}).status_code == 201


def test_serve_stops_at_start_on_a_bad_key_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        serve(Settings(data_dir=tmp_path, api_keys=f"{READ_KEY}:reed"))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "semsearch serve: SEMSEARCH_API_KEYS entry 1: unknown scope 'reed'" in err
    assert READ_KEY not in err
