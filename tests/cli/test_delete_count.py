"""`semsearch count` and `semsearch delete` against a real server: the numbers, and errors."""

import httpx
import pytest

from app.cli import main
from tests.cli.conftest import AUTH, CLI_KEY
from tests.helpers import ServerProcess, free_port


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_count_and_delete_by_filter_and_by_ids(
    server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = [
        {"id": f"d{i}", "text": f"note number {i}", "metadata": {"year": 2020 + i % 3}}
        for i in range(9)
    ]
    with httpx.Client(base_url=server.url, headers=AUTH) as http:
        r = http.post("/collections/managed/documents", json={"documents": docs})
        assert r.status_code == 200, r.text
    target = ["--collection", "managed", "--url", server.url, "--api-key", CLI_KEY]

    assert run(capsys, "count", *target) == (0, "9\n", "")
    assert run(capsys, "count", *target, "--filter", '{"year": 2020}') == (0, "3\n", "")
    code, out, _ = run(capsys, "delete", *target, "--filter", '{"year": {"$gte": 2021}}')
    assert (code, out) == (0, "deleted 6 documents\n")
    code, out, _ = run(capsys, "delete", *target, "--ids", "d0", "d1", "unknown")
    assert (code, out) == (0, "deleted 1 document\n")
    assert run(capsys, "count", *target) == (0, "2\n", "")


def test_refusals_and_usage_errors(
    server: ServerProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--collection", "managed2", "--url", server.url, "--api-key", CLI_KEY]
    code, out, err = run(capsys, "count", *target)
    assert (code, out) == (1, "") and "HTTP 404" in err and "managed2" in err
    with httpx.Client(base_url=server.url, headers=AUTH) as http:
        body = {"documents": [{"id": "a", "text": "x"}]}
        assert http.post("/collections/managed2/documents", json=body).status_code == 200
    code, _, err = run(capsys, "delete", *target, "--filter", "{}")
    assert code == 1 and "HTTP 400" in err and "filter" in err
    code, _, err = run(capsys, "delete", *target, "--filter", '{"a": {"$like": 1}}')
    assert code == 1 and "unknown operator" in err
    usage_errors = [
        (["--filter", "{oops"], "--filter is not valid JSON"),
        (["--filter", "[1]"], "--filter must be a JSON object"),
        (["--ids", "a", "--filter", "{}"], "not allowed with argument"),
        ([], "one of the arguments --ids --filter is required"),
    ]
    for bad, message in usage_errors:
        with pytest.raises(SystemExit) as exit_info:
            main(["delete", *target, *bad])
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    assert run(capsys, "count", *target) == (0, "1\n", "")


def test_an_unreachable_service_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run(capsys, "delete", "--collection", "c", "--url", url, "--ids", "a")
    assert code == 1 and "cannot reach" in err
