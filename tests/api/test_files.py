"""Users upload files; each becomes documents, bad files are reported by name, others go in."""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.models.encoder import Encoder
from tests.conftest import make_client
from tests.ingest.test_parsers import make_pdf


def upload(client: TestClient, files: list[tuple[str, bytes]], **form: str) -> dict[str, object]:
    r = client.post(
        "/collections/f/files",
        files=[("files", (name, data)) for name, data in files],
        data=form,
    )
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def reports(body: dict[str, object]) -> dict[str, dict[str, object]]:
    return {r["name"]: r for r in body["files"]}  # type: ignore[index, union-attr]


def test_each_supported_type_becomes_searchable_documents(client: TestClient) -> None:
    rows = "title,text,year\nSoup,A recipe for tomato soup with basil.,2020\n"
    lines = json.dumps({"id": "j1", "text": "The cat sat on the mat.", "metadata": {"n": 1}})
    body = upload(client, [
        ("notes.txt", b"Heavy rain is expected tomorrow in the north."),
        ("guide.md", b"# Pumps\n\nWater pumps move fluid through pipes."),
        ("page.html", b"<title>Markets</title><body><p>Stock markets fell.</p></body>"),
        ("manual.pdf", make_pdf(["The volcano erupted at dawn.", "Lava reached the sea."])),
        ("recipes.csv", rows.encode()),
        ("pets.jsonl", lines.encode() + b"\n"),
    ])  # fmt: skip
    assert body["documents"] == 7
    assert all(r["error"] is None for r in reports(body).values())
    hit = client.get("/collections/f/search", params={"q": "lava flowing", "k": 1}).json()
    top = hit["results"][0]
    assert top["id"] == "manual.pdf#page=2"
    assert top["metadata"] == {"source": "manual.pdf", "page": 2}
    soup = client.get("/collections/f/documents/recipes.csv#row=1".replace("#", "%23")).json()
    assert soup["metadata"]["year"] == 2020 and soup["metadata"]["title"] == "Soup"
    page = client.get("/collections/f/documents/page.html").json()
    assert page["metadata"]["title"] == "Markets"


def test_reuploading_a_file_replaces_its_documents(client: TestClient) -> None:
    upload(client, [("manual.pdf", make_pdf(["Page one text.", "Page two text.", "Three."]))])
    upload(client, [("manual.pdf", make_pdf(["New first page about volcanoes."]))])
    info = client.get("/collections/f").json()
    assert info["documents"] == 1 and info["vectors"] == info["chunks"] == 1
    doc = client.get("/collections/f/documents/manual.pdf%23page=1").json()
    assert doc["text"] == "New first page about volcanoes."


def test_bad_files_are_reported_by_name_and_the_others_go_in(client: TestClient) -> None:
    upload(client, [("keep.txt", b"Stored before the bad upload.")])
    body = upload(client, [
        ("virus.exe", b"MZ\x90\x00"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf"),
        ("latin.txt", "caf\xe9".encode("latin-1")),
        ("empty.md", b"   \n"),
        ("table.csv", b"name,body\nx,y\n"),
        ("good.txt", b"This one is fine."),
    ])  # fmt: skip
    found = reports(body)
    assert "supported" in str(found["virus.exe"]["error"])
    assert found["broken.pdf"]["error"]
    assert "UTF-8" in str(found["latin.txt"]["error"])
    assert "empty" in str(found["empty.md"]["error"])
    assert "text" in str(found["table.csv"]["error"]) and "body" in str(found["table.csv"]["error"])
    assert found["good.txt"]["documents"] == 1 and found["good.txt"]["error"] is None
    assert body["documents"] == 1
    assert client.get("/collections/f").json()["documents"] == 2


def test_the_csv_text_column_is_a_form_field(client: TestClient) -> None:
    body = upload(client, [("t.csv", b"name,body\nx,The body text.\n")], text_column="body")
    assert body["documents"] == 1
    assert client.get("/collections/f/documents/t.csv%23row=1").json()["text"] == "The body text."


def test_jsonl_lines_that_fail_are_warnings(client: TestClient) -> None:
    data = b'{"text": "good line"}\n{"nope": 1}\nnot json\n'
    (report,) = reports(upload(client, [("d.jsonl", data)])).values()
    assert report["documents"] == 1 and len(report["warnings"]) == 2  # type: ignore[arg-type]


def test_an_upload_without_files_is_a_400(client: TestClient) -> None:
    r = client.post("/collections/f/files", data={"text_column": "x"})
    assert r.status_code == 400 and "files" in r.json()["error"]["message"]


@pytest.fixture
def async_client(tmp_path: Path, encoder: Encoder) -> Iterator[TestClient]:
    """Every upload over 100 bytes becomes a background job."""
    yield from make_client(Settings(data_dir=tmp_path / "data", upload_async_bytes=100), encoder)


def test_a_large_upload_is_a_job_with_progress(async_client: TestClient) -> None:
    rows = "text,n\n" + "".join(f"Row {i} talks about rivers and boats.,{i}\n" for i in range(300))
    r = async_client.post(
        "/collections/f/files",
        files=[("files", ("big.csv", rows.encode())), ("files", ("bad.exe", b"MZ" * 100))],
    )
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["status_url"] == f"/jobs/{accepted['id']}"
    deadline = time.monotonic() + 120
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = async_client.get(accepted["status_url"]).json()
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert job["status"] == "done"
    assert (job["files_total"], job["files_done"], job["documents"]) == (2, 2, 300)
    assert job["chunks"] == 300
    assert len(job["errors"]) == 1 and "bad.exe" in job["errors"][0]
    assert async_client.get("/collections/f").json()["documents"] == 300


def test_a_small_upload_is_answered_at_once(async_client: TestClient) -> None:
    r = async_client.post("/collections/f/files", files=[("files", ("a.txt", b"Short."))])
    assert r.status_code == 200 and r.json()["documents"] == 1


def test_an_unknown_job_is_404(client: TestClient) -> None:
    r = client.get("/jobs/nope")
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
