"""Heavy models admit a bounded number of requests; the rest are told to retry."""

import asyncio

import pytest

from app.errors import Overloaded
from app.models.limiter import ConcurrencyLimiter


def test_requests_beyond_running_plus_waiting_are_refused_with_retry_after() -> None:
    async def scenario() -> None:
        limiter = ConcurrencyLimiter("generation", concurrency=1, queue=1, retry_after_s=2)
        release = asyncio.Event()
        started: list[int] = []

        async def hold(i: int) -> None:
            async with limiter.slot():
                started.append(i)
                await release.wait()

        tasks = [asyncio.create_task(hold(i)) for i in range(2)]
        await asyncio.sleep(0.01)
        assert started == [0] and limiter.in_use == 2
        with pytest.raises(Overloaded) as err:
            async with limiter.slot():
                pass
        assert err.value.retry_after_s == 2
        assert "1 running and 1 waiting" in err.value.message
        release.set()
        await asyncio.gather(*tasks)
        assert started == [0, 1] and limiter.in_use == 0
        async with limiter.slot():
            assert limiter.in_use == 1

    asyncio.run(scenario())


def test_a_failed_holder_frees_its_place() -> None:
    async def scenario() -> None:
        limiter = ConcurrencyLimiter("translation", concurrency=1, queue=0)
        with pytest.raises(RuntimeError):
            async with limiter.slot():
                raise RuntimeError("boom")
        assert limiter.in_use == 0
        limiter.check()

    asyncio.run(scenario())
