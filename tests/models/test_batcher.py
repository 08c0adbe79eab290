"""The encode batcher: concurrent calls share encoder calls, queries go before ingest pieces,
and a full queue refuses with 429 instead of growing."""

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from app.errors import Overloaded
from app.models.batcher import BatchingEncoder, EncodeBatcher, EncodeCost
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


def char_batcher(
    encode: Callable[[list[str]], np.ndarray], piece_chars: int, **options: Any
) -> EncodeBatcher:
    """A batcher whose encoder "takes" 1 ms per character, so pieces hold `piece_chars`
    characters (busy or quiet, unless options say otherwise)."""
    settings: dict[str, Any] = {
        "piece_ms": piece_chars,
        "quiet_piece_ms": piece_chars,
        "cost": EncodeCost(ms_per_char=1.0, learn=False),
        **options,
    }
    return EncodeBatcher(encode, **settings)


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
    busy = [" ".join(QUERIES * 8)] * 8  # two pieces of long texts keep the worker busy meanwhile
    batcher = char_batcher(
        encoder.encode, 4 * len(busy[0]), max_batch=len(QUERIES), observer=recorder
    )
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


class RecordingEncode:
    """The real encoder, remembering the texts of every call."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.encoder.encode(texts)


def test_a_large_request_is_encoded_longest_first_in_pieces_with_the_same_vectors(
    encoder: Encoder,
) -> None:
    texts = [f"{q} (verse {i})" + " amen" * (i % 7) for i, q in enumerate(QUERIES * 5)]
    recording = RecordingEncode(encoder)
    piece_chars = 300
    batcher = char_batcher(recording, piece_chars)
    try:
        vectors = batcher.encode(texts)
    finally:
        batcher.close()
    assert len(recording.calls) > 1
    assert sorted(t for call in recording.calls for t in call) == sorted(texts)
    encoded = [t for call in recording.calls for t in call]
    assert [len(t) for t in encoded] == sorted((len(t) for t in texts), reverse=True)
    for call in recording.calls:  # each piece fits its time, or is a single text
        assert len(call) == 1 or sum(len(t) for t in call) <= piece_chars
    assert cosines(vectors, encoder.encode(texts)).min() > 0.9999  # in the caller's order


def test_a_request_that_fits_one_piece_is_encoded_whole() -> None:
    gate = GatedEncode()
    gate.release.set()
    batcher = char_batcher(gate, 100)
    try:
        assert batcher.encode(["short", "longer text", "mid"]).ravel().tolist() == [5, 11, 3]
    finally:
        batcher.close()
    assert gate.calls == [["short", "longer text", "mid"]]


def test_the_cost_per_character_is_learned_from_the_pieces() -> None:
    cost = EncodeCost(ms_per_char=0.1)
    for _ in range(30):  # pieces of 500 characters that take 10 ms
        cost.observe(500, 10.0)
    assert cost.estimate_ms(500) == pytest.approx(10.0, rel=0.01)
    fixed = EncodeCost(ms_per_char=0.1, learn=False)
    fixed.observe(500, 10.0)
    assert fixed.estimate_ms(500) == pytest.approx(50.0)


def test_pieces_take_about_piece_ms_once_the_cost_is_learned(encoder: Encoder) -> None:
    texts = [f"{q}, said the preacher in verse {i}" for i, q in enumerate(QUERIES * 30)]
    recording = RecordingEncode(encoder)
    cost = EncodeCost(ms_per_char=1000.0)  # far too dear: the first pieces are single texts
    batcher = EncodeBatcher(recording, piece_ms=2000, quiet_piece_ms=2000, cost=cost)
    try:
        batcher.encode(texts)
    finally:
        batcher.close()
    assert len(recording.calls[0]) == 1
    assert cost.ms_per_char < 100.0  # corrected by what the encoder really took
    assert max(len(call) for call in recording.calls) > 1


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


def wait_for_queued(batcher: EncodeBatcher, texts: int) -> bool:
    """Polls (up to 2 s) until `texts` texts wait for the encoder; True once they do."""
    for _ in range(200):
        if batcher.queued_texts == texts:
            return True
        threading.Event().wait(0.01)
    return batcher.queued_texts == texts


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
        assert wait_for_queued(batcher, 2)
        with pytest.raises(Overloaded) as refused:
            batcher.encode(["one too many"])
        assert refused.value.code == "overloaded"
        assert refused.value.retry_after_s == 1
        assert "max_encode_queue" in refused.value.message
        gate.release.set()
        assert running.result(5)[0, 0] == len("first")
        assert [f.result(5)[0, 0] for f in waiting] == [2.0, 2.0]
    finally:
        gate.release.set()
        batcher.close()
        pool.shutdown()


def test_requests_answered_together_are_gathered_together_again() -> None:
    gate = GatedEncode()
    batcher = EncodeBatcher(gate, max_wait_s=5)
    pool = ThreadPoolExecutor(4)
    try:
        first = pool.submit(batcher.encode, ["a"])
        assert gate.started.wait(5)
        together = [pool.submit(batcher.encode, [t]) for t in ("b", "c", "d")]
        wait_for_queued(batcher, 3)
        gate.release.set()
        first.result(5)
        # Three came while "a" was encoded: four clients are about, and the worker waits for
        # the first one's next request instead of alternating a group of one and of three.
        together.append(pool.submit(batcher.encode, ["a2"]))
        [f.result(10) for f in together]
        assert gate.calls[-1] == ["b", "c", "d", "a2"]
        # The next round trickles in: the worker waits for the four it served last time.
        late = [pool.submit(batcher.encode, ["e"])]
        threading.Event().wait(0.1)
        late += [pool.submit(batcher.encode, [t]) for t in ("f", "g", "h")]
        [f.result(10) for f in late]
        assert sorted(gate.calls[-1]) == ["e", "f", "g", "h"]
    finally:
        gate.release.set()
        batcher.close()
        pool.shutdown()


def test_a_lone_client_does_not_wait_for_company() -> None:
    gate = GatedEncode()
    gate.release.set()
    batcher = EncodeBatcher(gate, max_wait_s=30)
    try:
        started = time.monotonic()
        for text in ("one", "two", "three"):
            batcher.encode([text])
        assert time.monotonic() - started < 10  # far below one wait of 30 s
    finally:
        batcher.close()
    assert gate.calls == [["one"], ["two"], ["three"]]


def test_queries_are_served_before_the_next_piece_of_an_ingest() -> None:
    gate = GatedEncode()
    batcher = char_batcher(gate, 4, max_wait_s=0)
    pool = ThreadPoolExecutor(2)
    try:
        ingest = pool.submit(batcher.encode, ["a1", "a2", "a3", "a4"])
        assert gate.started.wait(5)  # the first piece is being encoded
        query = pool.submit(batcher.encode, ["query"])
        wait_for_queued(batcher, 3)  # the ingest's last piece and the query
        gate.release.set()
        assert query.result(5).shape == (1, 1)
        assert ingest.result(5).ravel().tolist() == [2.0, 2.0, 2.0, 2.0]
        assert gate.calls == [["a1", "a2"], ["query"], ["a3", "a4"]]
    finally:
        gate.release.set()
        batcher.close()
        pool.shutdown()


def test_pieces_are_short_while_queries_come_and_long_when_none_do() -> None:
    gate = GatedEncode()
    gate.release.set()
    batcher = char_batcher(gate, 4, quiet_piece_ms=8, quiet_after_s=60, max_wait_s=0)
    ingest = ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"]
    try:
        batcher.encode(ingest)  # no query yet: long pieces
        batcher.encode(["query"])
        batcher.encode(ingest)  # a query came within quiet_after_s: short pieces
    finally:
        batcher.close()
    assert [len(call) for call in gate.calls] == [4, 4, 1, 2, 2, 2, 2]


def test_ingest_pieces_run_on_bulk_threads_and_waited_on_calls_on_query_threads() -> None:
    gate = GatedEncode()
    chosen: list[int] = []
    batcher = char_batcher(
        gate, 4, max_wait_s=0, set_threads=chosen.append, bulk_threads=2, query_threads=1
    )
    pool = ThreadPoolExecutor(2)
    try:
        ingest = pool.submit(batcher.encode, ["a1", "a2", "a3", "a4", "a5", "a6"])
        assert gate.started.wait(5)  # the first piece, nobody else waiting: bulk threads
        query = pool.submit(batcher.encode, ["query"])
        wait_for_queued(batcher, 5)
        gate.release.set()
        query.result(5)
        ingest.result(5)
    finally:
        gate.release.set()
        batcher.close()
        pool.shutdown()
    assert gate.calls == [["a1", "a2"], ["query"], ["a3", "a4"], ["a5", "a6"]]
    assert chosen == [2, 1, 2]  # set only when it changes


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


def test_a_failed_piece_fails_its_request_and_the_worker_goes_on() -> None:
    def encode(texts: list[str]) -> np.ndarray:
        if "bad" in texts:
            raise RuntimeError("cannot encode")
        return np.ones((len(texts), 1), dtype=np.float32)

    batcher = char_batcher(encode, 3, max_wait_s=0)
    try:
        with pytest.raises(RuntimeError, match="cannot encode"):
            batcher.encode(["ok", "bad", "ok", "ok"])
        assert batcher.queued_texts == 0
        assert batcher.encode(["good", "also"]).shape == (2, 1)
    finally:
        batcher.close()


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        EncodeBatcher(lambda texts: np.zeros((0, 1)), max_batch=0)
    with pytest.raises(ValueError, match="piece_ms"):
        EncodeBatcher(lambda texts: np.zeros((0, 1)), piece_ms=0)
    with pytest.raises(ValueError, match="quiet_piece_ms"):
        EncodeBatcher(lambda texts: np.zeros((0, 1)), quiet_piece_ms=0)
