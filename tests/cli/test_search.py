"""`semsearch search` against a real server: a table, the JSON reply, and errors."""

import json
from pathlib import Path

import pytest

from app.cli import main
from tests.cli.conftest import CLI_KEY, ingest_url
from tests.helpers import ServerProcess, free_port


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


def test_an_unreachable_service_fails_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["search", "cats", "--collection", "c", "--url", url]) == 1
    assert f"semsearch search: cannot reach {url}: " in capsys.readouterr().err
