"""The encode batcher: concurrent calls share encoder calls, queries go before ingest pieces,
and a full queue refuses with 429 instead of growing."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from app.errors import Overloaded
from app.models.batcher import BatchingEncoder, EncodeBatcher
from app.models.encoder import Encoder

QUERIES = [
    "In the beginning God created the heaven and the earth",
    "the lord is my shepherd",
    "love your neighbour",
    "a soft answer turneth away wrath",
    "blessed are the meek",
    "let there be light",
    "vanity of vanities",
    "the truth shall make you free",
]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


class Recorder:
    """Remembers the size of every encoder call."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, size: int, waiting: int) -> None:
        self.sizes.append(size)


def test_concurrent_queries_share_one_encoder_call_and_get_their_own_vectors(
    encoder: Encoder,
) -> None:
    recorder = Recorder()
    batcher = EncodeBatcher(encoder.encode, max_batch=len(QUERIES), bulk_piece=4, observer=recorder)
    busy = [" ".join(QUERIES * 8)] * 8  # two pieces of long texts keep the worker busy meanwhile
    try:
        with ThreadPoolExecutor(len(QUERIES) + 1) as pool:
            ingest = pool.submit(batcher.encode, busy)
            threading.Event().wait(0.2)  # the worker takes the first piece meanwhile
            results = list(pool.map(lambda q: batcher.encode([q]), QUERIES))
            ingest.result()
    finally:
        batcher.close()
    assert len(QUERIES) in recorder.sizes, recorder.sizes
    gathered = np.concatenate(results)
    alone = encoder.encode(QUERIES)
    assert gathered.shape == alone.shape
    assert cosines(gathered, alone).min() > 0.9999


def test_a_large_request_is_encoded_in_pieces_with_the_same_vectors(encoder: Encoder) -> None:
    recorder = Recorder()
    texts = [f"{q} (verse {i})" for i, q in enumerate(QUERIES * 5)]
    batcher = EncodeBatcher(encoder.encode, bulk_piece=16, observer=recorder)
    try:
        vectors = batcher.encode(texts)
    finally:
        batcher.close()
    assert recorder.sizes == [16, 16, 8]
    assert cosines(vectors, encoder.encode(texts)).min() > 0.9999


def test_the_batching_encoder_is_the_same_model_for_everything_else(encoder: Encoder) -> None:
    batcher = EncodeBatcher(encoder.encode)
    wrapped = BatchingEncoder(encoder, batcher)
    try:
        assert (wrapped.name, wrapped.dimension) == (encoder.name, encoder.dimension)
        assert wrapped.info == encoder.info
        assert wrapped.count_tokens(["two words"]) == encoder.count_tokens(["two words"])
        assert wrapped.encode([]).shape == (0, encoder.dimension)
        assert cosines(wrapped.encode(QUERIES[:2]), encoder.encode(QUERIES[:2])).min() > 0.9999
    finally:
        batcher.close()


class GatedEncode:
    """A stand-in encode function for the queue logic: blocks until released, logs calls."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        self.started.set()
        assert self.release.wait(10)
        return np.array([[float(len(t))] for t in texts], dtype=np.float32)


def test_a_full_queue_refuses_new_requests_with_retry_after() -> None:
    gate = GatedEncode()
    batcher = EncodeBatcher(gate, max_queue=2, max_wait_s=0)
    pool = ThreadPoolExecutor(4)
    try:
        running = pool.submit(batcher.encode, ["first"])
        assert gate.started.wait(5)
        waiting = [pool.submit(batcher.encode, [f"q{i}"]) for i in range(2)]
        for _ in range(200):
            if batcher.queued_texts == 2:
                break
            threading.Event().wait(0.01)
        assert batcher.queued_texts == 2
        with pytest.raises(Overloaded) as refused:
            batcher.encode(["one too many"])
        assert refused.value.status == 429
        assert refused.value.headers == {"Retry-After": "1"}
        assert "max_encode_queue" in refused.value.message
        gate.release.set()
        assert running.result(5)[0, 0] == len("first")
        assert [f.result(5)[0, 0] for f in waiting] == [2.0, 2.0]
    finally:
        gate.release.set()
        batcher.close()
        pool.shutdown()


def test_queries_are_served_before_the_next_piece_of_an_ingest() -> None:
    gate = GatedEncode()
    batcher = EncodeBatcher(gate, bulk_piece=2, max_wait_s=0)
    pool = ThreadPoolExecutor(2)
    try:
        ingest = pool.submit(batcher.encode, ["a1", "a2", "a3", "a4"])
        assert gate.started.wait(5)  # the first piece is being encoded
        query = pool.submit(batcher.encode, ["query"])
        for _ in range(200):
            if batcher.queued_texts == 1:
                break
            threading.Event().wait(0.01)
        gate.release.set()
        assert query.result(5).shape == (1, 1)
        assert ingest.result(5).ravel().tolist() == [2.0, 2.0, 2.0, 2.0]
        assert gate.calls == [["a1", "a2"], ["query"], ["a3", "a4"]]
    finally:
        gate.release.set()
        batcher.close()
        pool.shutdown()


def test_an_encoder_failure_reaches_the_caller_and_the_worker_goes_on() -> None:
    def encode(texts: list[str]) -> np.ndarray:
        if "bad" in texts:
            raise RuntimeError("cannot encode")
        return np.ones((len(texts), 1), dtype=np.float32)

    batcher = EncodeBatcher(encode, max_wait_s=0)
    try:
        with pytest.raises(RuntimeError, match="cannot encode"):
            batcher.encode(["bad"])
        assert batcher.encode(["good"]).shape == (1, 1)
    finally:
        batcher.close()


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        EncodeBatcher(lambda texts: np.zeros((0, 1)), max_batch=0)
