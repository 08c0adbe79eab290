"""CORS: off by default; SEMSEARCH_CORS_ORIGINS allows the listed origins, even before the key
check, so that a browser can read a 401."""

from pathlib import Path

from fastapi.testclient import TestClient

from app.config import Settings
from app.models.encoder import Encoder
from tests.conftest import make_client

ORIGIN = "https://app.example"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def test_cors_is_off_by_default(client: TestClient) -> None:
    r = client.get("/collections", headers={"Origin": ORIGIN})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    preflight = client.options("/collections", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in preflight.headers


def test_listed_origins_are_allowed(tmp_path: Path, encoder: Encoder) -> None:
    key = "browser-key-0123456789"
    settings = Settings(
        data_dir=tmp_path / "data",
        cors_origins=f" {ORIGIN} , https://other.example",
        api_keys=f"{key}:write",
    )
    for c in make_client(settings, encoder):
        preflight = c.options("/collections", headers=PREFLIGHT)
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()

        refused = c.get("/collections", headers={"Origin": ORIGIN})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == ORIGIN

        ok = c.get("/collections", headers={"Origin": ORIGIN, "Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
        exposed = ok.headers["access-control-expose-headers"].lower()
        assert "x-request-id" in exposed and "retry-after" in exposed

        evil = {"Origin": "https://evil.example", "Authorization": f"Bearer {key}"}
        stranger = c.get("/collections", headers=evil)
        assert "access-control-allow-origin" not in stranger.headers
        bad = c.options("/collections", headers={**PREFLIGHT, "Origin": "https://evil.example"})
        assert bad.status_code == 400
