"""One log line per request; X-Request-ID honoured when sane and returned on every response."""

import json
import logging
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.logging_setup import REQUEST_ID, JsonFormatter, TextFormatter, logging_config
from app.main import create_app

FIELDS = {"request_id", "method", "route", "path", "status", "duration_ms", "key_id", "client"}


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "semsearch.access"]


def test_a_request_id_is_honoured_and_returned(client: TestClient) -> None:
    r = client.get("/collections", headers={"X-Request-ID": "trace-42.a:b_c"})
    assert r.headers["X-Request-ID"] == "trace-42.a:b_c"


@pytest.mark.parametrize("given", ["has space", "x" * 129, "semi;colon", "", "é", "a\tb"], ids=repr)
def test_an_unusable_request_id_is_replaced(client: TestClient, given: str) -> None:
    r = client.get("/health", headers={"X-Request-ID": given.encode("utf-8")})  # type: ignore[dict-item]
    returned = r.headers["X-Request-ID"]
    assert returned != given and len(returned) == 32 and returned.isalnum()


def test_every_response_has_a_request_id(client: TestClient) -> None:
    responses = [
        client.get("/health"),
        client.get("/collections/missing"),  # 404
        client.post("/collections", json={"name": "bad name"}),  # 400
        client.post("/collections", content=b"{"),  # 400, malformed JSON
        client.put("/collections"),  # 405
        client.post("/embed", content=b"x" * (40 * 1024 * 1024)),  # 413
    ]
    assert [r.status_code for r in responses] == [200, 404, 400, 400, 405, 413]
    ids = {r.headers["X-Request-ID"] for r in responses}
    assert len(ids) == len(responses)


def test_one_line_per_request_with_its_fields(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="semsearch.access")
    client.post("/collections", json={"name": "logged"})
    client.get("/collections/logged/documents/some/id", headers={"X-Request-ID": "req-1"})
    first, second = access_records(caplog)
    for record in (first, second):
        assert set(record.fields) == FIELDS  # type: ignore[attr-defined]
    assert first.fields["route"] == "/collections"  # type: ignore[attr-defined]
    assert first.fields["status"] == 201  # type: ignore[attr-defined]
    assert second.fields == {  # type: ignore[attr-defined]
        **second.fields,  # type: ignore[attr-defined]
        "request_id": "req-1",
        "method": "GET",
        "route": "/collections/{name}/documents/{doc_id:path}",
        "path": "/collections/logged/documents/some/id",
        "status": 404,
        "key_id": None,
    }
    assert second.fields["duration_ms"] >= 0  # type: ignore[attr-defined]


def test_an_unexpected_error_is_a_json_500_with_its_request_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(data_dir=tmp_path / "data"))

    def boom() -> None:
        raise RuntimeError("kaput")

    app.add_api_route("/boom", boom)
    caplog.set_level(logging.INFO, logger="semsearch.access")
    with TestClient(app) as c:
        r = c.get("/boom", headers={"X-Request-ID": "boom-1"})
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal_error", "message": "RuntimeError: kaput"}}
    assert r.headers["X-Request-ID"] == "boom-1"
    (record,) = [r for r in access_records(caplog) if r.fields["route"] == "/boom"]  # type: ignore[attr-defined]
    assert record.levelno == logging.ERROR and record.exc_info is not None


def make_record(msg: str, fields: dict[str, object] | None = None) -> logging.LogRecord:
    record = logging.LogRecord("semsearch.access", logging.INFO, __file__, 1, msg, (), None)
    if fields is not None:
        record.fields = fields
    return record


def test_json_lines() -> None:
    fields = {"request_id": "r1", "status": 200, "route": "/health", "duration_ms": 1.5}
    message = "GET /health 200\nsecond line\u2028third \u0085 fourth é"
    line = JsonFormatter().format(make_record(message, fields))
    assert len(line.splitlines()) == 1 and line.isascii()
    parsed = json.loads(line)
    assert parsed["level"] == "info" and parsed["logger"] == "semsearch.access"
    assert parsed["msg"] == message
    assert parsed["ts"].endswith("Z") and parsed["status"] == 200
    try:
        raise ValueError("bad")
    except ValueError:
        record = make_record("failed")
        record.exc_info = sys.exc_info()
    assert "ValueError: bad" in json.loads(JsonFormatter().format(record))["exc"]


def test_records_logged_during_a_request_carry_its_id() -> None:
    token = REQUEST_ID.set("inside-1")
    try:
        line = JsonFormatter().format(make_record("loading a model"))
        text = TextFormatter().format(make_record("loading a model"))
    finally:
        REQUEST_ID.reset(token)
    assert json.loads(line)["request_id"] == "inside-1"
    assert text.endswith("loading a model request_id=inside-1")


def test_log_format_setting_picks_the_formatter() -> None:
    assert logging_config("json", "info")["formatters"]["service"]["()"].endswith("JsonFormatter")
    text = logging_config("text", "debug")
    assert text["formatters"]["service"]["()"].endswith("TextFormatter")
    assert text["loggers"]["uvicorn.access"]["propagate"] is False
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="xml")  # type: ignore[arg-type]
