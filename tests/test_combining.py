"""Concurrent calls answered together: one call for what queued, each caller its own answer,
a lone caller never kept waiting, a failure reaching every caller it held; the company a call
expects."""

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from app.combining import Combiner, Company
from tests.helpers import combiner_busy, wait_for_waiting


class Recorder:
    """Doubles each item and records the batches it was called with."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def __call__(self, items: list[int]) -> list[int]:
        self.calls.append(list(items))
        return [2 * i for i in items]


def submit_while_busy(
    combiner: Combiner[int, int], pool: ThreadPoolExecutor, items: list[int]
) -> list["Future[int]"]:
    """Submit items while another call holds the combiner, so that all of them queue."""
    with combiner_busy(combiner):
        futures = [pool.submit(combiner, i) for i in items]
        wait_for_waiting(combiner, len(items))
    return futures


def test_items_queued_meanwhile_are_run_in_one_call_and_each_gets_its_answer() -> None:
    run = Recorder()
    combiner = Combiner(run, wait_s=0)
    with ThreadPoolExecutor(6) as pool:
        futures = submit_while_busy(combiner, pool, [1, 2, 3, 4, 5, 6])
        assert [f.result(10) for f in futures] == [2, 4, 6, 8, 10, 12]
    assert run.calls == [[1, 2, 3, 4, 5, 6]]


def test_a_lone_caller_never_waits_for_company() -> None:
    run = Recorder()
    combiner = Combiner(run, wait_s=30)
    started = time.monotonic()
    assert [combiner(i) for i in (1, 2, 3)] == [2, 4, 6]
    assert time.monotonic() - started < 10  # far below one wait of 30 s
    assert run.calls == [[1], [2], [3]]


def test_after_a_call_with_company_the_next_waits_for_as_many() -> None:
    run = Recorder()
    combiner = Combiner(run, wait_s=5)
    with ThreadPoolExecutor(4) as pool:
        [f.result(10) for f in submit_while_busy(combiner, pool, [1, 2, 3, 4])]
        # The next four trickle in; the first waits for the other three instead of going alone.
        late = [pool.submit(combiner, 10)]
        threading.Event().wait(0.1)
        late += [pool.submit(combiner, i) for i in (11, 12, 13)]
        assert [f.result(10) for f in late] == [20, 22, 24, 26]
    assert sorted(run.calls[-1]) == [10, 11, 12, 13]


def test_a_failed_call_fails_every_caller_it_held_and_the_next_call_works() -> None:
    failing = True

    def run(items: list[int]) -> list[int]:
        if failing:
            raise RuntimeError("index unavailable")
        return items

    combiner = Combiner(run, wait_s=0)
    with ThreadPoolExecutor(3) as pool:
        for future in submit_while_busy(combiner, pool, [1, 2, 3]):
            with pytest.raises(RuntimeError, match="index unavailable"):
                future.result(10)
    assert combiner.waiting == 0
    failing = False
    assert combiner(7) == 7


def test_a_run_that_answers_the_wrong_number_of_items_is_an_error() -> None:
    combiner: Combiner[int, int] = Combiner(lambda items: [], wait_s=0)
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        combiner(1)


def test_company_counts_those_served_and_those_that_came_while_the_call_ran() -> None:
    company = Company()
    company.arrived()  # no call running: nothing to learn from
    assert company.expected == 0
    company.started(served=3)
    company.arrived()
    company.arrived()
    company.ended()
    company.arrived()  # after the call: part of the next gathering, not of this one's company
    assert company.expected == 5
    company.started(served=1)
    company.ended()
    assert company.expected == 1


def test_callers_a_call_served_return_while_the_next_call_runs() -> None:
    first_running, first_release = threading.Event(), threading.Event()
    next_running, next_release = threading.Event(), threading.Event()

    def run(items: list[int]) -> list[int]:
        running, release = (
            (next_running, next_release) if 3 in items else (first_running, first_release)
        )
        running.set()
        assert release.wait(10)
        return items

    combiner = Combiner(run, wait_s=0)
    with ThreadPoolExecutor(3) as pool:
        served = submit_while_busy(combiner, pool, [1, 2])
        assert first_running.wait(10)
        later = pool.submit(combiner, 3)  # queues behind the running call
        wait_for_waiting(combiner, 1)
        first_release.set()
        assert next_running.wait(10)
        assert [f.result(10) for f in served] == [1, 2]  # the next call still runs
        next_release.set()
        assert later.result(10) == 3
