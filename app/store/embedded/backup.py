"""Consistent snapshots of a collection, and restoring them into a data folder.

A snapshot is a folder `<collection>-<UTC time>` holding three files:

- `vectors.faiss`: the collection's in-memory index, serialized with the sequence number `I`
  it holds (VectorIndex.save), taken first;
- `docstore.sqlite`: a copy of the SQLite store made with SQLite's online backup API in a
  single step, that is inside one read transaction: exactly the committed state at one
  sequence number `S`. In WAL mode a reader blocks no writer, so ingests and searches go on
  while it copies;
- `manifest.json`: collection name and config, `seq` (S), `index_seq` (I), document and chunk
  counts, creation time, format version, and the size and SHA-256 of both files.

Why the pair is a state that existed. Every write commits to SQLite first and is then applied
to the index, one write at a time and in sequence order, so the index at `I` holds exactly the
chunks SQLite held at `I`. The index is serialized before the copy starts, so `I <= S`: the
index is never newer than the copy. A restored collection opens as it would after a crash: it
removes the chunks tombstoned after `I`, adds the chunks written after `I`, and so reaches
exactly `S`. Those tombstones are in the copy because the collection's own index snapshots,
the only thing that prunes tombstones, are held off from the moment the index is serialized
until the copy is done. Should the counts still disagree on open, the index is rebuilt from
SQLite.
"""

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from app.errors import BadInput, Conflict
from app.store.embedded.collection import Collection
from app.store.embedded.docstore import DocStore
from app.store.embedded.layout import DOCSTORE_FILE, SNAPSHOT_FILE
from app.store.interface import CollectionConfig, validate_name

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST_FILE = "manifest.json"
DEFAULT_FOLDER = ".snapshots"  # inside the data folder; a name no collection can have
SNAPSHOT_FILES = (DOCSTORE_FILE, SNAPSHOT_FILE)
COPY_CHUNK = 1024 * 1024
MAX_NAME_TRIES = 100

_naming_lock = threading.Lock()


@dataclass(frozen=True)
class FileDigest:
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What manifest.json records about a snapshot."""

    collection: str
    config: dict[str, Any]
    seq: int
    index_seq: int
    documents: int
    chunks: int
    created: str
    files: dict[str, FileDigest]
    format: int = FORMAT

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "collection": self.collection,
            "config": self.config,
            "seq": self.seq,
            "index_seq": self.index_seq,
            "documents": self.documents,
            "chunks": self.chunks,
            "created": self.created,
            "files": {n: {"bytes": d.bytes, "sha256": d.sha256} for n, d in self.files.items()},
        }


@dataclass(frozen=True)
class Snapshot:
    path: Path
    manifest: Manifest


@dataclass(frozen=True)
class Restored:
    """A snapshot brought back as collection `name` in `folder`."""

    name: str
    folder: Path
    snapshot: Snapshot
    replaced: bool


def snapshot_root(configured: Path | None, data_dir: Path) -> Path:
    """Where snapshots go: the configured folder, else `.snapshots` in the data folder (the
    catalog never opens it: collection names cannot start with a dot)."""
    return configured if configured is not None else data_dir / DEFAULT_FOLDER


# -- writing ---------------------------------------------------------------------------------
def write_snapshot(collection: Collection, root: Path) -> Snapshot:
    """Write a consistent snapshot of `collection` into a new folder under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    name = collection.config.name
    staging = root / f".{name}-{uuid.uuid4().hex[:12]}.tmp"
    staging.mkdir()
    try:
        with collection.snapshots_held():
            index_seq = collection.vectors.save(staging / SNAPSHOT_FILE)
            _backup_sqlite(collection.docstore.path, staging / DOCSTORE_FILE)
        manifest = _describe(staging, name, index_seq, now)
        _write_json(staging / MANIFEST_FILE, manifest.to_json())
        _fsync_dir(staging)
        path = _rename_unique(staging, root, f"{name}-{now:%Y%m%dT%H%M%SZ}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("collection %s: snapshot at seq %d written to %s", name, manifest.seq, path)
    return Snapshot(path, manifest)


def _backup_sqlite(source: Path, target: Path) -> None:
    """Copy a live SQLite file in one backup step: one read transaction, one committed state.
    (A step-by-step backup would restart whenever a write lands between two steps.)"""
    if not source.exists():
        raise FileNotFoundError(f"{source} is gone")
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True, timeout=30.0)
    try:
        src.execute("PRAGMA query_only=ON")
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def _describe(folder: Path, name: str, index_seq: int, now: datetime) -> Manifest:
    """The manifest of a written snapshot folder, read from the copy itself."""
    store = DocStore(folder / DOCSTORE_FILE, 0)
    try:
        config = CollectionConfig.from_meta(store.get_meta())
        seq = store.last_seq()
        documents, chunks = store.count()
    finally:
        store.close()
    if index_seq > seq:
        raise RuntimeError(f"index at seq {index_seq} is newer than the SQLite copy at {seq}")
    files = {f: _digest(folder / f) for f in SNAPSHOT_FILES}
    created = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Manifest(name, config.to_meta(), seq, index_seq, documents, chunks, created, files)


def _rename_unique(staging: Path, root: Path, base: str) -> Path:
    """Rename `staging` to `base`, or `base-2`, `base-3`...: an existing snapshot is never
    overwritten."""
    with _naming_lock:
        for n in range(1, MAX_NAME_TRIES + 1):
            path = root / (base if n == 1 else f"{base}-{n}")
            if not path.exists():
                os.rename(staging, path)
                _fsync_dir(root)
                return path
    raise FileExistsError(f"{root / base}: {MAX_NAME_TRIES} snapshots of that name already exist")


# -- reading ---------------------------------------------------------------------------------
def read_snapshot(path: Path) -> Snapshot:
    """A snapshot folder's manifest, checked; its files must exist with the recorded sizes.
    Raises BadInput saying what is wrong."""
    if not path.is_dir():
        raise BadInput(f"snapshot {path}: no such folder")
    manifest_path = path / MANIFEST_FILE
    try:
        raw = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"snapshot {path}: {MANIFEST_FILE} is missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"snapshot {path}: {MANIFEST_FILE} is not readable JSON ({exc})") from exc
    manifest = _parse_manifest(raw, path)
    for name, digest in manifest.files.items():
        file = path / name
        if not file.is_file():
            raise BadInput(f"snapshot {path}: {name} is missing")
        size = file.stat().st_size
        if size != digest.bytes:
            raise BadInput(
                f"snapshot {path}: {name} holds {size} bytes; the manifest records {digest.bytes}"
            )
    return Snapshot(path, manifest)


def _parse_manifest(raw: Any, path: Path) -> Manifest:
    where = f"snapshot {path}: {MANIFEST_FILE}"
    if not isinstance(raw, dict):
        raise BadInput(f"{where} is not a JSON object")
    fmt = raw.get("format")
    if fmt != FORMAT:
        raise BadInput(f"{where}: format {fmt!r} is unknown; this version reads format {FORMAT}")

    def integer(key: str) -> int:
        value = raw.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise BadInput(f"{where}: {key!r} must be a whole number >= 0, not {value!r}")
        return value

    def text(key: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value:
            raise BadInput(f"{where}: {key!r} must be a non-empty string, not {value!r}")
        return value

    collection = text("collection")
    try:
        validate_name(collection)
    except BadInput as exc:
        raise BadInput(f"{where}: collection {exc.message}") from exc
    config: dict[str, Any] = raw["config"] if isinstance(raw.get("config"), dict) else {}
    try:
        CollectionConfig.from_meta(config)
    except (KeyError, TypeError, ValueError):
        raise BadInput(f"{where}: 'config' is not a collection config") from None
    files: dict[str, FileDigest] = {}
    listed = raw.get("files")
    for name in SNAPSHOT_FILES:
        entry = listed.get(name) if isinstance(listed, dict) else None
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("bytes"), int)
            or not isinstance(entry.get("sha256"), str)
        ):
            raise BadInput(f"{where}: 'files' must give the bytes and sha256 of {name}")
        files[name] = FileDigest(entry["bytes"], entry["sha256"])
    seq, index_seq = integer("seq"), integer("index_seq")
    if index_seq > seq:
        raise BadInput(f"{where}: 'index_seq' {index_seq} is newer than 'seq' {seq}")
    return Manifest(
        collection,
        config,
        seq,
        index_seq,
        integer("documents"),
        integer("chunks"),
        text("created"),
        files,
    )


def list_snapshots(root: Path, collection: str | None = None) -> list[Snapshot]:
    """The readable snapshots under `root` (of one collection if given), oldest first."""
    if not root.is_dir():
        return []
    found: list[Snapshot] = []
    for folder in root.iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        try:
            snapshot = read_snapshot(folder)
        except BadInput as exc:
            log.debug("skipping %s: %s", folder, exc.message)
            continue
        if collection is None or snapshot.manifest.collection == collection:
            found.append(snapshot)
    return sorted(found, key=lambda s: (s.manifest.created, s.path.name))


# -- restoring -------------------------------------------------------------------------------
def restore_snapshot(
    source: Path, data_dir: Path, name: str | None = None, force: bool = False
) -> Restored:
    """Bring a snapshot back as a collection of `data_dir` (named as in the snapshot unless
    `name` is given). The files are copied and checked in a hidden folder, then renamed into
    place, so a failure leaves nothing half-restored. An existing collection of that name is
    replaced only with `force`. The service must not be running on `data_dir`.

    Raises BadInput for a missing, damaged or unknown snapshot or an invalid name, Conflict
    when the collection exists and `force` is not given."""
    snapshot = read_snapshot(source)
    name = validate_name(name or snapshot.manifest.collection)
    target = data_dir / name
    if target.exists() and not force:
        raise Conflict(
            f"collection {name!r} already exists in {data_dir}; "
            "give --force to replace it or --name to restore under another name"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = data_dir / f".restore-{name}-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        for file in SNAPSHOT_FILES:
            digest = _copy_with_digest(source / file, staging / file)
            if digest != snapshot.manifest.files[file]:
                raise BadInput(
                    f"snapshot {source}: {file} does not match its checksum in {MANIFEST_FILE}"
                )
        _check_and_rename(staging / DOCSTORE_FILE, snapshot, name)
        _fsync_dir(staging)
        replaced = _move_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("restored %s as collection %s in %s", source, name, data_dir)
    return Restored(name, target, snapshot, replaced)


def _check_and_rename(docstore: Path, snapshot: Snapshot, name: str) -> None:
    """The copied store must hold what the manifest says; it takes the collection's new name."""
    m = snapshot.manifest
    try:
        store = DocStore(docstore, 0)
        try:
            CollectionConfig.from_meta(store.get_meta())
            found = (store.last_seq(), *store.count())
            if name != m.collection:
                store.set_meta({"name": name})
        finally:
            store.close()
    except (sqlite3.DatabaseError, KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"snapshot {snapshot.path}: {DOCSTORE_FILE} is unreadable ({exc})") from exc
    if found != (m.seq, m.documents, m.chunks):
        raise BadInput(
            f"snapshot {snapshot.path}: {DOCSTORE_FILE} holds seq {found[0]}, {found[1]} "
            f"documents and {found[2]} chunks; the manifest records seq {m.seq}, "
            f"{m.documents} documents and {m.chunks} chunks"
        )


def _move_into_place(staging: Path, target: Path) -> bool:
    """Rename `staging` to `target`, replacing an existing folder; True if one was replaced."""
    replaced = target.exists()
    old = target.with_name(f".replaced-{target.name}-{uuid.uuid4().hex[:12]}")
    if replaced:
        os.rename(target, old)
    try:
        os.rename(staging, target)
    except OSError:
        if replaced:
            os.rename(old, target)
        raise
    _fsync_dir(target.parent)
    if replaced:
        shutil.rmtree(old, ignore_errors=True)
    return replaced


# -- files -----------------------------------------------------------------------------------
def _digest(path: Path) -> FileDigest:
    sha = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(COPY_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return FileDigest(size, sha.hexdigest())


def _copy_with_digest(source: Path, target: Path) -> FileDigest:
    """Copy a file (fsynced), hashing what was written."""
    sha = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(COPY_CHUNK):
            sha.update(chunk)
            size += len(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return FileDigest(size, sha.hexdigest())


def _write_json(path: Path, value: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
