"""A real uvicorn server on 127.0.0.1, started as a user would start it."""

from collections.abc import Iterator

import pytest

from tests.helpers import ServerProcess


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for every end-to-end test that needs no settings of its own (each uses its own
    collections); at the end it must shut down cleanly."""
    proc = ServerProcess(tmp_path_factory.mktemp("e2e") / "data").start()
    try:
        yield proc
    finally:
        code = proc.stop()
    assert code == 0, proc.log()
