"""Model caches on disk: each folder is written under a temporary name, then renamed into place."""

import logging
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


def write_atomically(target: Path, write: Callable[[Path], None], marker: str) -> None:
    """Call write(folder) on a temporary folder beside target, then rename it into place.

    A target holding the file `marker` is complete: one another process finished first is
    kept, one left without it is replaced. A failed write leaves nothing behind.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    staging.mkdir()
    try:
        write(staging)
        if target.exists() and not (target / marker).is_file():
            shutil.rmtree(target)
        try:
            staging.rename(target)
        except OSError:
            if not (target / marker).is_file():
                raise
            log.info("another process cached %s first", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
