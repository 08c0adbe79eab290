"""`semsearch ingest` and `semsearch search` against a real server and a real data folder."""

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from app import cli
from app.cli import TargetUnavailable, UrlSink, main
from app.ingest.parsers import ParsedDocument
from app.ingest.walk import find_files
from app.store.docstore import DocStore
from tests.helpers import ServerProcess, all_ids, free_port

MAX_TEXT_CHARS = 5000
EXPECTED_IDS = sorted(
    [
        "docs/README.md",
        "docs/cats.txt",
        "docs/faq.jsonl#line=1",
        "docs/faq.jsonl#line=2",
        "docs/guide/README.md",
        "docs/table.csv#row=1",
        "docs/table.csv#row=2",
    ]
)


CLI_KEY = "cli-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {CLI_KEY}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("cli-server") / "data"
    env = {
        "SEMSEARCH_MAX_TEXT_CHARS": str(MAX_TEXT_CHARS),
        "SEMSEARCH_API_KEYS": f"{CLI_KEY}:write",
    }
    proc = ServerProcess(data_dir, env=env)
    proc.start()
    yield proc
    assert proc.stop() == 0, proc.log()


@pytest.fixture
def docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder tree with every kind of file the walk meets; the --url state goes to tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "docs"
    (root / "guide").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "cats.txt").write_text("Cats sleep all day on the warm mat.\n")
    (root / "README.md").write_text("# Project\n\nAn overview of the project.\n")
    (root / "guide" / "README.md").write_text("# Guide\n\nHow to reset your password.\n")
    (root / "faq.jsonl").write_text(
        '{"text": "Dogs like long walks in the park."}\n'
        '{"text": "Parrots can learn to speak.", "metadata": {"lang": "en"}}\n'
        "this line is not JSON\n"
    )
    (root / "table.csv").write_text("text,year\nApples grow on trees.,2020\nPears too.,2021\n")
    (root / ".hidden" / "secret.txt").write_text("never ingested")
    (root / "image.png").write_bytes(b"\x89PNG\r\n")
    (root / "broken.pdf").write_bytes(b"this is not a PDF at all")
    return root


def ingest_url(server: ServerProcess, collection: str, *args: str) -> int:
    command = ["ingest", *args, "--collection", collection, "--url", server.url]
    return main([*command, "--api-key", CLI_KEY])


def ids_over_http(server: ServerProcess, collection: str) -> list[str]:
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        ids, _ = all_ids(client, collection, 100)
    return sorted(ids)


def text_over_http(server: ServerProcess, collection: str, doc_id: str) -> str:
    url = f"{server.url}/collections/{collection}/documents?limit=100"
    page = httpx.get(url, headers=AUTH).json()
    return next(str(d["text"]) for d in page["documents"] if d["id"] == doc_id)


def test_find_files_names_by_relative_path(docs: Path) -> None:
    found = find_files([docs, docs / "cats.txt", docs / "image.png", docs.parent / "docs"])
    assert [f.name for f in found.files] == [
        "docs/README.md",
        "docs/broken.pdf",
        "docs/cats.txt",
        "docs/faq.jsonl",
        "docs/guide/README.md",
        "docs/table.csv",
    ]
    assert found.ignored == ["docs/image.png"]
    assert found.problems == []
    alone = find_files([docs / "cats.txt", docs / "image.png"])
    assert [f.name for f in alone.files] == ["cats.txt"]
    assert len(alone.problems) == 1
    assert alone.problems[0].startswith("image.png: unsupported file type '.png'")
    other = docs.parent / "other" / "docs"
    other.mkdir(parents=True)
    (other / "cats.txt").write_text("other cats")
    clash = find_files([docs / "cats.txt", other / "cats.txt"])
    assert [f.name for f in clash.files] == ["cats.txt"]
    assert "same relative name" in clash.problems[0]


def test_ingest_over_http_resumes_restarts_and_resends_changed_files(
    server: ServerProcess, docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ingest_url(server, "tree", str(docs)) == 1
    out = capsys.readouterr().out
    assert "ingested 5 files (7 documents) into collection 'tree' at http" in out
    assert "ignored 1 file of other types (.png)" in out
    assert "skipped 1 file:\n  docs/broken.pdf: not a PDF file" in out
    assert "warnings: 1\n  docs/faq.jsonl line 3: not valid JSON" in out
    assert ids_over_http(server, "tree") == EXPECTED_IDS

    assert ingest_url(server, "tree", str(docs)) == 1
    out = capsys.readouterr().out
    assert "ingested 0 files (0 documents)" in out
    assert "already ingested, not sent again: 5 files" in out

    assert ingest_url(server, "tree", str(docs), "--restart") == 1
    assert "ingested 5 files (7 documents)" in capsys.readouterr().out
    assert ids_over_http(server, "tree") == EXPECTED_IDS

    (docs / "cats.txt").write_text("Cats now sleep in the sunny window.\n")
    (docs / "broken.pdf").unlink()
    assert ingest_url(server, "tree", str(docs)) == 0
    out = capsys.readouterr().out
    assert "ingested 1 file (1 document)" in out and "already ingested" in out
    assert "skipped" not in out
    assert ids_over_http(server, "tree") == EXPECTED_IDS
    assert text_over_http(server, "tree", "docs/cats.txt") == "Cats now sleep in the sunny window."


def test_a_refused_file_is_reported_and_the_others_go_in(
    server: ServerProcess, docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (docs / "broken.pdf").unlink()
    (docs / "long.txt").write_text("word " * MAX_TEXT_CHARS)
    assert ingest_url(server, "refused", str(docs)) == 1
    out = capsys.readouterr().out
    assert "ingested 5 files (7 documents)" in out
    assert (
        f"  docs/long.txt: refused: HTTP 400: documents.0: {MAX_TEXT_CHARS * 5 - 1} characters "
        f"is over the limit of {MAX_TEXT_CHARS}\n"
    ) in out
    assert ids_over_http(server, "refused") == EXPECTED_IDS

    assert ingest_url(server, "refused", str(docs)) == 1
    out = capsys.readouterr().out
    assert "ingested 0 files" in out and "docs/long.txt: refused" in out


def test_an_interrupted_ingest_resumes_where_it_stopped(
    server: ServerProcess,
    docs: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (docs / "broken.pdf").unlink()
    calls: list[str] = []

    def interrupted_on_the_third_file(
        name: str, data: bytes, text_column: str | None = None
    ) -> object:
        calls.append(name)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_parse_file(name, data, text_column)

    real_parse_file = cli.parse_file
    monkeypatch.setattr(cli, "parse_file", interrupted_on_the_third_file)
    assert ingest_url(server, "resume", str(docs), "--batch", "1") == 130
    out = capsys.readouterr().out
    assert "ingested 2 files (2 documents)" in out and "run the same command again" in out
    assert ids_over_http(server, "resume") == ["docs/README.md", "docs/cats.txt"]

    monkeypatch.setattr(cli, "parse_file", real_parse_file)
    assert ingest_url(server, "resume", str(docs), "--batch", "1") == 0
    out = capsys.readouterr().out
    assert "ingested 3 files (5 documents)" in out
    assert "already ingested, not sent again: 2 files" in out
    assert ids_over_http(server, "resume") == EXPECTED_IDS


def test_search_prints_a_table_json_and_errors(
    server: ServerProcess, docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ingest_url(server, "searched", str(docs)) == 1
    capsys.readouterr()
    base = ["search", "--collection", "searched", "--url", server.url, "--api-key", CLI_KEY]

    assert main([*base, "how do I reset my password", "-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["rank", "score", "id", "text"]
    assert len(lines) == 4
    rank, score, doc_id, *text = lines[1].split()
    assert (rank, doc_id) == ("1", "docs/guide/README.md")
    assert " ".join(text) == "# Guide How to reset your password."
    assert len(score.split(".")[1]) == 3

    assert main([*base, "apples", "--mode", "lexical", "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["results"][0]["id"] == "docs/table.csv#row=1"

    assert main([*base, "parrots", "--filter", '{"lang": "en"}']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in lines[1:]] == ["docs/faq.jsonl#line=2"]

    assert (
        main(
            ["search", "cats", "--collection", "absent", "--url", server.url, "--api-key", CLI_KEY]
        )
        == 1
    )
    assert "HTTP 404: collection 'absent' does not exist" in capsys.readouterr().err
    assert main([*base, "cats", "--filter", '{"year": {"$near": 1}}']) == 1
    assert "unknown operator '$near'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([*base, "cats", "--filter", "{not json"])
    assert exit_info.value.code == 2


def test_ingest_into_a_data_folder(
    tmp_path: Path, docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    args = ["ingest", str(docs), "--collection", "local", "--data-dir", str(data_dir)]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "ingested 5 files (7 documents)" in out and "docs/broken.pdf" in out
    assert (data_dir / "local" / "ingest-state.json").exists()

    (docs / "table.csv").write_text("text,year\nApples grow on trees.,2020\n")
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "ingested 1 file (1 document)" in out and "already ingested, not sent again: 4" in out
    store = DocStore(data_dir / "local" / "docstore.sqlite", 0)
    try:
        stored = sorted(d.id for d in store.page(100, 0))
    finally:
        store.close()
    assert stored == [i for i in EXPECTED_IDS if i != "docs/table.csv#row=2"]


def test_usage_errors_exit_2(
    server: ServerProcess, docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["ingest", str(docs / "missing"), "--collection", "c"],
        ["ingest", str(docs), "--collection", "c", "--url", "x", "--data-dir", "y"],
        ["ingest", str(docs), "--collection", "c", "--batch", "0"],
        ["ingest", str(docs)],
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2, argv
    capsys.readouterr()
    assert ingest_url(server, "not a name", str(docs)) == 2
    assert "not a valid collection name" in capsys.readouterr().err
    data_dir = str(docs.parent / "data")
    assert main(["ingest", str(docs), "--collection", "bad/name", "--data-dir", data_dir]) == 2


def test_an_unreachable_service_stops_after_bounded_retries(
    docs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "RETRY_DELAYS_S", (0.01, 0.01))
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["ingest", str(docs), "--collection", "c", "--url", url]) == 1
    assert "failed 3 times; last: ConnectError" in capsys.readouterr().err


def test_server_errors_are_retried_and_4xx_are_not() -> None:
    replies = [503, 500, 200]
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        status = replies[len(seen)]
        seen.append(status)
        if status == 200:
            return httpx.Response(200, json={"ids": ["a"]})
        return httpx.Response(status, json={"error": {"code": "x", "message": "busy"}})

    def sink_with(handle: Callable[[httpx.Request], httpx.Response]) -> UrlSink:
        transport = httpx.MockTransport(handle)
        client = httpx.Client(transport=transport, base_url="http://test")
        sink = UrlSink("http://test", "c", client)
        sink.delays = (0.0, 0.0, 0.0)
        return sink

    document = [ParsedDocument("a", "text", {})]
    sink_with(handler).send(document)
    assert seen == [503, 500, 200]

    replies, seen = [400], []
    with pytest.raises(cli.BatchRejected, match="HTTP 400: busy"):
        sink_with(handler).send(document)
    assert seen == [400]

    replies, seen = [500] * 4, []
    with pytest.raises(TargetUnavailable, match="failed 4 times; last: HTTP 500: busy"):
        sink_with(handler).send(document)


def test_help_of_the_installed_console_script(capsys: pytest.CaptureFixture[str]) -> None:
    script = Path(sys.executable).parent / "semsearch"
    top = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert top.returncode == 0
    assert all(name in top.stdout for name in ("serve", "eval", "ingest", "search"))
    for command in ("ingest", "search"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        help_text = capsys.readouterr().out
        assert f"examples:\n  semsearch {command} " in help_text
        assert command == "search" or "must NOT be running" in help_text


def test_a_keyed_service_needs_the_key_from_the_flag_or_the_environment(
    server: ServerProcess,
    docs: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SEMSEARCH_API_KEY", raising=False)
    search = ["search", "cats", "--collection", "keyed", "--url", server.url]
    assert main(search) == 1
    assert "HTTP 401" in capsys.readouterr().err
    assert (
        main(["ingest", str(docs / "cats.txt"), "--collection", "keyed", "--url", server.url]) == 1
    )
    assert "401" in capsys.readouterr().err
    monkeypatch.setenv("SEMSEARCH_API_KEY", CLI_KEY)
    assert (
        main(["ingest", str(docs / "cats.txt"), "--collection", "keyed", "--url", server.url]) == 0
    )
    assert main(search) == 0
    assert "cats.txt" in capsys.readouterr().out
