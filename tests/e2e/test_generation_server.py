"""Chat through the real OpenAI client against a real server; disconnecting stops generation."""

import time

import httpx
from openai import OpenAI

from tests.helpers import ServerProcess

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_the_openai_client_chats(server: ServerProcess) -> None:
    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=120)
    reply = client.chat.completions.create(
        model="SmolLM2-135M-Instruct",
        messages=QUESTION,
        max_tokens=20,
        temperature=0,  # type: ignore[arg-type]
    )
    assert "Paris" in (reply.choices[0].message.content or "")
    assert reply.usage is not None and reply.usage.completion_tokens > 0


def test_the_openai_client_streams(server: ServerProcess) -> None:
    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, timeout=120)
    stream = client.chat.completions.create(
        model="SmolLM2-135M-Instruct",
        messages=QUESTION,
        max_tokens=20,
        stream=True,  # type: ignore[arg-type]
    )
    parts, finish = [], None
    for chunk in stream:
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
    assert "Paris" in "".join(parts) and finish in ("stop", "length")


def test_a_busy_generator_answers_429_and_a_disconnect_frees_it(
    tmp_path_factory,  # type: ignore[no-untyped-def]
) -> None:
    env = {"SEMSEARCH_GENERATION_CONCURRENCY": "1", "SEMSEARCH_GENERATION_QUEUE": "0"}
    server = ServerProcess(tmp_path_factory.mktemp("disc") / "data", env).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            http.post("/generate", json={"prompt": "Hi", "max_new_tokens": 1})  # load the model
            story = (
                "<|im_start|>user\nWrite a very long story about a dragon.<|im_end|>\n"
                "<|im_start|>assistant\n"
            )
            body = {"prompt": story, "max_new_tokens": 500, "stream": True}
            with http.stream("POST", "/generate", json=body) as r:
                lines = r.iter_lines()  # held: a dropped iterator closes the connection
                for line in lines:
                    if line.startswith("data: "):
                        break  # the generation is running and holds the only slot
                busy = httpx.post(f"{server.url}/generate", json={"prompt": "Hi"}, timeout=30)
                assert busy.status_code == 429
                assert busy.headers["Retry-After"] == "1"
                assert busy.json()["error"]["code"] == "overloaded"
            # The client went away after one chunk.
            # 500 tokens take over 10 s; once the slot is free again the generation stopped.
            deadline = time.monotonic() + 5
            status = 0
            while time.monotonic() < deadline:
                r = http.post("/generate", json={"prompt": "Hi", "max_new_tokens": 1})
                status = r.status_code
                if status == 200:
                    break
                time.sleep(0.2)
            assert status == 200
    finally:
        server.stop()
