"""`semsearch restore`: exit codes and messages for good and bad snapshots."""

import json
from pathlib import Path

import pytest

from app.cli import main
from app.models.encoder import Encoder
from app.store.catalog import Catalog
from app.store.embedded.backup import MANIFEST_FILE, write_snapshot
from app.store.embedded.layout import SNAPSHOT_FILE
from app.store.interface import NewDocument


@pytest.fixture
def snapshot(tmp_path: Path, encoder: Encoder) -> Path:
    catalog = Catalog(tmp_path / "live", encoder)
    notes = catalog.create("notes")
    notes.upsert([NewDocument("Water the plants.", "a"), NewDocument("Call the bank.", "b")])
    path = write_snapshot(notes, tmp_path / "snaps").path
    catalog.close()
    return path


def restore(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["restore", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_restore_prints_what_it_restored_and_refuses_to_overwrite(
    tmp_path: Path,
    snapshot: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("SEMSEARCH_DATA_DIR", str(data))
    code, out, err = restore(capsys, str(snapshot))
    assert (code, err) == (0, "")
    assert f"restored collection 'notes' into {data / 'notes'}: 2 documents, 2 chunks" in out
    assert (data / "notes" / SNAPSHOT_FILE).exists()

    code, out, err = restore(capsys, str(snapshot), "--data-dir", str(data))
    assert code == 1 and out == ""
    assert "collection 'notes' already exists" in err and "--force" in err

    code, out, _ = restore(capsys, str(snapshot), "--data-dir", str(data), "--force")
    assert code == 0 and "the collection 'notes' that was there before was replaced" in out
    code, out, _ = restore(capsys, str(snapshot), "--data-dir", str(data), "--name", "notes2")
    assert code == 0 and "restored collection 'notes2'" in out
    assert sorted(p.name for p in data.iterdir()) == ["notes", "notes2"]


def test_a_bad_snapshot_or_name_exits_2_with_the_reason(
    tmp_path: Path, snapshot: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    target = ("--data-dir", str(data))
    code, _, err = restore(capsys, str(tmp_path / "nowhere"), *target)
    assert code == 2 and "no such folder" in err

    code, _, err = restore(capsys, str(snapshot), *target, "--name", "no spaces")
    assert code == 2 and "'no spaces' is not a valid collection name" in err

    manifest = json.loads((snapshot / MANIFEST_FILE).read_text())
    (snapshot / MANIFEST_FILE).write_text(json.dumps({**manifest, "format": 2}))
    code, _, err = restore(capsys, str(snapshot), *target)
    assert code == 2 and "format 2 is unknown; this version reads format 1" in err
    (snapshot / MANIFEST_FILE).write_text(json.dumps(manifest))

    index = (snapshot / SNAPSHOT_FILE).read_bytes()
    (snapshot / SNAPSHOT_FILE).write_bytes(bytes([index[0] ^ 0xFF]) + index[1:])
    code, _, err = restore(capsys, str(snapshot), *target)
    assert code == 2 and "vectors.faiss does not match its checksum in manifest.json" in err

    (snapshot / MANIFEST_FILE).unlink()
    code, _, err = restore(capsys, str(snapshot), *target)
    assert code == 2 and "manifest.json is missing" in err
    assert not data.exists() or list(data.iterdir()) == []

    with pytest.raises(SystemExit) as exited:
        main(["restore"])
    assert exited.value.code == 2
    assert "SNAPSHOT_PATH" in capsys.readouterr().err
