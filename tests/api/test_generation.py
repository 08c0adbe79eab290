"""Users generate text and chat with the decoder, whole or streamed, within limits."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.models.encoder import Encoder
from tests.conftest import make_client

QUESTION = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"


def sse_events(client: TestClient, path: str, body: dict[str, object]) -> list[object]:
    events: list[object] = []
    with client.stream("POST", path, json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
                events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_generate_answers_with_usage_and_finish_reason(module_client: TestClient) -> None:
    r = module_client.post("/generate", json={"prompt": QUESTION, "max_new_tokens": 20})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "Paris" in body["text"]
    assert body["model"] == "SmolLM2-135M-Instruct"
    assert body["usage"]["prompt_tokens"] > 5 and 0 < body["usage"]["completion_tokens"] <= 20
    assert body["finish_reason"] in ("stop", "length")


def test_max_new_tokens_bounds_the_answer(module_client: TestClient) -> None:
    r = module_client.post("/generate", json={"prompt": "Once upon a time", "max_new_tokens": 5})
    body = r.json()
    assert body["usage"]["completion_tokens"] == 5 and body["finish_reason"] == "length"


def test_a_stop_string_ends_the_text_before_it(module_client: TestClient) -> None:
    body = module_client.post(
        "/generate", json={"prompt": QUESTION, "max_new_tokens": 30, "stop": ["Paris"]}
    ).json()
    assert "Paris" not in body["text"] and body["finish_reason"] == "stop"


def test_streaming_sends_chunks_then_a_final_event_with_usage(module_client: TestClient) -> None:
    whole = module_client.post("/generate", json={"prompt": QUESTION, "max_new_tokens": 20})
    events = sse_events(
        module_client, "/generate", {"prompt": QUESTION, "max_new_tokens": 20, "stream": True}
    )
    chunks = [e["text"] for e in events[:-1]]  # type: ignore[index]
    final = events[-1]
    assert len(chunks) > 1 and final["done"] is True  # type: ignore[index]
    assert "".join(chunks) == final["text"] == whole.json()["text"]  # type: ignore[index]
    assert final["usage"] == whole.json()["usage"]  # type: ignore[index]


def test_the_same_seed_samples_the_same_text(module_client: TestClient) -> None:
    body = {"prompt": "My favourite colour is", "max_new_tokens": 12, "temperature": 0.9,
            "top_p": 0.95, "seed": 42}  # fmt: skip
    first = module_client.post("/generate", json=body).json()["text"]
    assert module_client.post("/generate", json=body).json()["text"] == first


def test_chat_completions_use_the_chat_template(module_client: TestClient) -> None:
    r = module_client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "What is the capital of France?"}],
              "max_tokens": 20},
    )  # fmt: skip
    body = r.json()
    assert body["object"] == "chat.completion"
    assert "Paris" in body["choices"][0]["message"]["content"]
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )


def test_models_lists_all_three_architectures(module_client: TestClient) -> None:
    module_client.post("/generate", json={"prompt": "Hi", "max_new_tokens": 1})
    models = {m["task"]: m for m in module_client.get("/models").json()["models"]}
    assert models["embedding"]["architecture"] == "encoder" and models["embedding"]["loaded"]
    assert models["generation"]["architecture"] == "decoder" and models["generation"]["loaded"]
    assert models["generation"]["parameters"] > 100_000_000
    assert models["translation"]["architecture"] == "encoder-decoder"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"prompt": ""}, ["prompt", "empty"]),
        ({"prompt": "   "}, ["prompt", "empty"]),
        ({"prompt": "hi", "temperature": -0.1}, ["temperature"]),
        ({"prompt": "hi", "top_p": 0}, ["top_p"]),
        ({"prompt": "hi", "top_p": 1.5}, ["top_p"]),
        ({"prompt": "hi", "stop": "x"}, ["stop"]),
        ({"prompt": "hi", "stop": [1, 2]}, ["stop"]),
        ({"prompt": "hi", "stop": ["a", "b", "c", "d", "e"]}, ["stop", "4"]),
        ({"prompt": "hi", "stop": [""]}, ["stop", "empty"]),
        ({"prompt": "hi", "max_new_tokens": 0}, ["max_new_tokens"]),
        ({"prompt": "hi", "max_new_tokens": 513}, ["max_new_tokens", "512"]),
        ({"prompt": "word " * 3000}, ["prompt", "tokens", "2048"]),
        ({"prompt": "hi", "seed": "x"}, ["seed"]),
        ({"prompt": "hi", "colour": 1}, ["colour"]),
    ],
)
def test_bad_generation_input_is_a_400_naming_the_field(
    module_client: TestClient, body: dict[str, object], words: list[str]
) -> None:
    r = module_client.post("/generate", json=body)
    assert r.status_code == 400, r.text
    for word in words:
        assert word in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"messages": []}, ["messages"]),
        ({"messages": [{"role": "robot", "content": "hi"}]}, ["messages.0.role"]),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": -1}, ["temperature"]),
        ({"messages": [{"role": "user", "content": "hi"}], "n": 2}, ["n"]),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10_000},
         ["max_new_tokens", "512"]),
    ],
)  # fmt: skip
def test_bad_chat_input_is_a_400(
    module_client: TestClient, body: dict[str, object], words: list[str]
) -> None:
    r = module_client.post("/v1/chat/completions", json=body)
    assert r.status_code == 400, r.text
    for word in words:
        assert word in r.json()["error"]["message"]


def test_a_generator_that_fails_to_load_is_503_and_search_still_works(
    tmp_path: Path, encoder: Encoder
) -> None:
    settings = Settings(data_dir=tmp_path / "data", generator=str(tmp_path / "no-such-model"))
    for c in make_client(settings, encoder):
        r = c.post("/generate", json={"prompt": "Hi"})
        assert r.status_code == 503 and "no-such-model" in r.json()["error"]["message"]
        models = {m["task"]: m for m in c.get("/models").json()["models"]}
        assert models["generation"]["state"] == "failed" and models["generation"]["error"]
        c.post("/collections/c/documents", json={"documents": [{"text": "still works"}]})
        assert c.get("/collections/c/search", params={"q": "works"}).status_code == 200
