"""The search lane answers valid JSON searches before the routers, and leaves everything else
to them: the answers, errors, log lines and metrics are the route's own."""

import asyncio
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.api.search_lane import is_json, replay, search_route
from tests.helpers import ingest

DOCS = [
    {"id": "cat", "text": "The cat sat on the mat.", "metadata": {"lang": "en"}},
    {"id": "soup", "text": "A recipe for tomato soup with basil.", "metadata": {"lang": "en"}},
    {"id": "chat", "text": "Le chat dort sur le canapé.", "metadata": {"lang": "fr"}},
]
REQUESTS = re.compile(
    r'semsearch_http_requests_total\{method="POST",route="/collections/\{name\}/search",'
    r'status="(\d+)"\} (\S+)'
)


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    ingest(client, "s", DOCS)
    return client


def counted(client: TestClient) -> dict[str, float]:
    """Requests counted under the search route's template, by status."""
    return {s: float(n) for s, n in REQUESTS.findall(client.get("/metrics").text)}


def test_a_json_search_gets_the_same_answer_as_the_routed_get(loaded: TestClient) -> None:
    posted = loaded.post("/collections/s/search", json={"query": "a kitten", "k": 2})
    got = loaded.get("/collections/s/search", params={"q": "a kitten", "k": 2})
    assert posted.status_code == got.status_code == 200
    assert posted.headers["content-type"] == "application/json"
    assert int(posted.headers["content-length"]) == len(posted.content)
    assert posted.json()["results"] == got.json()["results"]
    assert posted.json()["results"][0]["id"] == "cat"


def test_every_search_form_and_option_is_answered(loaded: TestClient) -> None:
    batch = loaded.post("/collections/s/search", json={"queries": ["kitten", "soup"], "k": 1})
    assert [[h["id"] for h in hits] for hits in batch.json()["results"]] == [["cat"], ["soup"]]
    filtered = loaded.post(
        "/collections/s/search", json={"query": "animal", "filter": {"lang": "fr"}}
    )
    assert [h["id"] for h in filtered.json()["results"]] == ["chat"]
    charset = loaded.post(
        "/collections/s/search",
        content=b'{"query": "tomato", "k": 1}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert charset.json()["results"][0]["id"] == "soup"


def test_lane_requests_are_counted_and_logged_under_the_route_template(
    loaded: TestClient,
) -> None:
    before = counted(loaded).get("200", 0.0)
    r = loaded.post("/collections/s/search", json={"query": "cat"}, headers={"X-Request-ID": "l-1"})
    assert r.headers["x-request-id"] == "l-1"
    assert counted(loaded)["200"] == before + 1


def test_a_body_that_does_not_validate_gets_the_routes_own_400(loaded: TestClient) -> None:
    r = loaded.post("/collections/s/search", json={"query": "cat", "k": 0})
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "invalid_request",
        "message": "k: Input should be greater than or equal to 1",
    }
    broken = loaded.post(
        "/collections/s/search", content=b'{"query": ', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["error"]["message"].startswith("body: malformed JSON")
    both = loaded.post("/collections/s/search", json={"query": "cat", "queries": ["dog"]})
    assert both.status_code == 400 and "exactly one of" in both.json()["error"]["message"]
    assert counted(loaded)["400"] == 3


def test_errors_of_the_search_itself_are_json_with_their_status(loaded: TestClient) -> None:
    missing = loaded.post("/collections/nope/search", json={"query": "cat"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    too_many = loaded.post("/collections/s/search", json={"query": "cat", "k": 1001})
    assert too_many.status_code == 400
    assert too_many.json()["error"]["message"] == "k: 1001 is over the limit of 1000"
    bad_name = loaded.post("/collections/no%20spaces/search", json={"query": "cat"})
    assert bad_name.status_code == 400
    assert loaded.post("/collections/s/search", json={"query": "cat"}).status_code == 200


def test_a_body_of_another_type_goes_to_the_route(loaded: TestClient) -> None:
    r = loaded.post(
        "/collections/s/search", content=b'{"query": "cat"}', headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "invalid_request"


def test_a_streamed_body_over_the_limit_is_refused_and_nothing_else_is_sent(
    loaded: TestClient,
) -> None:
    limit = loaded.app.state.services.settings.max_body_bytes  # type: ignore[attr-defined]

    def chunks() -> Iterator[bytes]:
        yield b'{"query": "'
        for _ in range(limit // 65536 + 2):
            yield b"a" * 65536
        yield b'"}'

    r = loaded.post(
        "/collections/s/search", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert loaded.post("/collections/s/search", json={"query": "cat"}).status_code == 200


def test_only_json_content_types_take_the_lane() -> None:
    def scope(value: bytes | None) -> dict[str, object]:
        return {"headers": [] if value is None else [(b"content-type", value)]}

    assert is_json(scope(b"application/json"))
    assert is_json(scope(b"Application/JSON; charset=utf-8"))
    assert not is_json(scope(b"application/jsonl"))
    assert not is_json(scope(b"text/plain"))
    assert not is_json(scope(None))


def test_a_replayed_body_comes_first_then_what_the_client_sends() -> None:
    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def twice() -> list[dict[str, object]]:
        again = replay(b"{}", receive)  # type: ignore[arg-type]
        return [await again(), await again()]  # type: ignore[list-item]

    assert asyncio.run(twice()) == [
        {"type": "http.request", "body": b"{}", "more_body": False},
        {"type": "http.disconnect"},
    ]


def test_the_lane_labels_requests_with_the_post_search_route() -> None:
    route = search_route()
    assert route.path == "/collections/{name}/search" and route.methods == {"POST"}
