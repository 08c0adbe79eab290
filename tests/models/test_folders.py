"""Model caches: a folder appears under its name only once it is written whole."""

from pathlib import Path

import pytest

from app.models.folders import write_atomically

MARKER = "model.onnx"


def test_the_folder_appears_complete_and_alone(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "model"

    def write(folder: Path) -> None:
        assert not target.exists()
        (folder / MARKER).write_bytes(b"weights")
        (folder / "export.json").write_text("{}")

    write_atomically(target, write, MARKER)
    assert sorted(p.name for p in target.iterdir()) == ["export.json", MARKER]
    assert [p.name for p in target.parent.iterdir()] == ["model"]


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "encoders" / "m-key" / "onnx"

    def half_written(folder: Path) -> None:
        (folder / MARKER).write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(target, half_written, MARKER)
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_a_folder_finished_first_by_another_process_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "onnx"
    target.mkdir()
    (target / MARKER).write_bytes(b"theirs")
    write_atomically(target, lambda folder: (folder / MARKER).write_bytes(b"mine"), MARKER)
    assert (target / MARKER).read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["onnx"]


def test_a_folder_without_the_marker_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "onnx"
    target.mkdir()
    (target / "leftover.bin").write_bytes(b"from a crash")
    write_atomically(target, lambda folder: (folder / MARKER).write_bytes(b"mine"), MARKER)
    assert [p.name for p in target.iterdir()] == [MARKER]
    assert (target / MARKER).read_bytes() == b"mine"
