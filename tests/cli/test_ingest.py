"""`semsearch ingest` against a real server and a real data folder: what goes in, what is
reported, resuming, and a changed file replacing its earlier version."""

from pathlib import Path

import pytest

from app.cli import ingester, main
from app.ingest.walk import find_files
from tests.cli.conftest import (
    EXPECTED_IDS,
    MAX_TEXT_CHARS,
    ids_in_folder,
    ids_over_http,
    ingest_url,
    text_over_http,
)
from tests.helpers import ServerProcess, free_port


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


def shrink_two_files_and_add_one(docs: Path) -> list[str]:
    """Drop a row of table.csv and a line of faq.jsonl, add new.txt; the ids expected after."""
    (docs / "table.csv").write_text("text,year\nApples grow on trees.,2020\n")
    (docs / "faq.jsonl").write_text('{"text": "Parrots can learn to speak."}\n')
    (docs / "new.txt").write_text("A new file about boats.\n")
    gone = {"docs/table.csv#row=2", "docs/faq.jsonl#line=2"}
    return sorted([i for i in EXPECTED_IDS if i not in gone] + ["docs/new.txt"])


def test_a_changed_file_sent_again_over_http_loses_the_documents_it_no_longer_holds(
    server: ServerProcess, docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (docs / "broken.pdf").unlink()
    assert ingest_url(server, "changed", str(docs)) == 0
    capsys.readouterr()

    expected = shrink_two_files_and_add_one(docs)
    assert ingest_url(server, "changed", str(docs)) == 0
    out = capsys.readouterr().out
    assert "ingested 3 files (3 documents)" in out
    assert "already ingested, not sent again: 3 files" in out
    assert ids_over_http(server, "changed") == expected
    assert text_over_http(server, "changed", "docs/faq.jsonl#line=1") == (
        "Parrots can learn to speak."
    )
    assert text_over_http(server, "changed", "docs/cats.txt") == (
        "Cats sleep all day on the warm mat."
    )

    assert ingest_url(server, "changed", str(docs)) == 0
    out = capsys.readouterr().out
    assert "ingested 0 files (0 documents)" in out
    assert "already ingested, not sent again: 6 files" in out
    assert ids_over_http(server, "changed") == expected


def test_a_changed_file_larger_than_a_batch_keeps_every_document_it_still_holds(
    server: ServerProcess, docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (docs / "broken.pdf").unlink()
    rows = "".join(f"Row {i} is about rivers.,{i}\n" for i in range(5))
    (docs / "table.csv").write_text("text,year\n" + rows)
    assert ingest_url(server, "big", str(docs), "--batch", "2") == 0
    capsys.readouterr()

    (docs / "table.csv").write_text(
        "text,year\n" + "".join(f"Row {i} is about lakes.,{i}\n" for i in range(3))
    )
    assert ingest_url(server, "big", str(docs), "--batch", "2") == 0
    assert "ingested 1 file (3 documents)" in capsys.readouterr().out
    table = [i for i in ids_over_http(server, "big") if i.startswith("docs/table.csv")]
    assert table == [f"docs/table.csv#row={n}" for n in (1, 2, 3)]
    assert text_over_http(server, "big", "docs/table.csv#row=3") == "Row 2 is about lakes."
    assert "docs/faq.jsonl#line=2" in ids_over_http(server, "big")


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

    real_parse_file = ingester.parse_file
    monkeypatch.setattr(ingester, "parse_file", interrupted_on_the_third_file)
    assert ingest_url(server, "resume", str(docs), "--batch", "1") == 130
    out = capsys.readouterr().out
    assert "ingested 2 files (2 documents)" in out and "run the same command again" in out
    assert ids_over_http(server, "resume") == ["docs/README.md", "docs/cats.txt"]

    monkeypatch.setattr(ingester, "parse_file", real_parse_file)
    assert ingest_url(server, "resume", str(docs), "--batch", "1") == 0
    out = capsys.readouterr().out
    assert "ingested 3 files (5 documents)" in out
    assert "already ingested, not sent again: 2 files" in out
    assert ids_over_http(server, "resume") == EXPECTED_IDS


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
    assert ids_in_folder(data_dir, "local") == [
        i for i in EXPECTED_IDS if i != "docs/table.csv#row=2"
    ]


def test_a_changed_file_ingested_again_into_a_data_folder_loses_what_it_no_longer_holds(
    tmp_path: Path, docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (docs / "broken.pdf").unlink()
    data_dir = tmp_path / "data"
    args = ["ingest", str(docs), "--collection", "local", "--data-dir", str(data_dir)]
    assert main(args) == 0
    capsys.readouterr()

    expected = shrink_two_files_and_add_one(docs)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "ingested 3 files (3 documents)" in out
    assert "already ingested, not sent again: 3 files" in out
    assert ids_in_folder(data_dir, "local") == expected

    assert main(args) == 0
    assert "already ingested, not sent again: 6 files" in capsys.readouterr().out
    assert ids_in_folder(data_dir, "local") == expected


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
    from app.cli import client

    monkeypatch.setattr(client, "RETRY_DELAYS_S", (0.01, 0.01))
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["ingest", str(docs), "--collection", "c", "--url", url]) == 1
    assert "failed 3 times; last: ConnectError" in capsys.readouterr().err
