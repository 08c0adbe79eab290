"""A real uvicorn server on 127.0.0.1, started as a user would start it."""

from collections.abc import Iterator

import pytest

from tests.helpers import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("e2e") / "data").start()
    try:
        yield proc
    finally:
        proc.stop()
