"""`semsearch copy`: collections from a data folder or a database to another, with their
stored vectors (nothing is embedded again).

How a copy goes, and how it resumes:

- Each collection is created on the target with the source's configuration (encoder, dimension,
  normalisation, language, index). An index the target backend does not offer (a FAISS factory
  string on PostgreSQL, halfvec in a data folder) falls back to the nearest one it does, and
  says so; `--index` and `--index-options` choose another.
- Documents are read in pages of `--batch` in the order of their `num` (the order they were
  first written) with `CollectionStore.export`, and each page is written to the target in one
  transaction with `CollectionStore.store`, under the same ids: a page written twice replaces
  its documents with themselves.
- After each page, a checkpoint file records the last `num` copied and the last document id
  (in $XDG_CACHE_HOME/semsearch/copy-state/, default ~/.cache/...). Run the same command again
  after an interruption and it resumes after that page, provided the target still holds that
  document; otherwise (the target was deleted or recreated, or `--restart`), it starts over.
- At the end the documents, chunks and vectors of source and target are counted: they must be
  equal, or the command exits 1 (documents written to the source during the copy, or documents
  the target held before that the source lacks). The checkpoint goes once a collection is done.

The source should not be written to during a copy: a document changed in a page already copied
is not copied again.
"""

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from app.cli.output import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, plural

if TYPE_CHECKING:
    from app.models.encoder import Encoder
    from app.store.interface import CollectionConfig, CollectionStore

URL_PREFIXES = ("postgresql://", "postgres://")
DEFAULT_BATCH = 256
MAX_BATCH = 10_000
# Options an index of one backend may pass to the same index type on the other.
PORTABLE_OPTIONS = ("then", "m", "ef_construction", "ef_search", "nlist", "nprobe", "threshold")
INDEX_TYPES = ("flat", "hnsw", "ivf", "auto")

EPILOG = """\
examples:
  semsearch copy --from ./index_data --to postgresql://semsearch:secret@db:5432/semsearch
  semsearch copy --from postgresql://db/semsearch --to ./index_data --collection docs
  semsearch copy --from ./index_data --to postgresql://db/semsearch \\
      --index hnsw --index-options '{"m": 16, "quantization": "half"}'

Copies each collection (or those named by --collection): its configuration, documents,
metadata, chunks and vectors, without embedding again. Progress shows on stderr; a checkpoint
after each page lets the same command, run again, resume where it stopped (--restart starts
over). At the end, the counts of source and target are compared. A data folder must not be in
use by a running service during the copy; a database may be.

exit status: 0 copied and counts equal, 1 counts differ or a collection could not be copied
(a database that cannot be reached, a target collection of another encoder), 2 a bad argument
(no such data folder or collection, invalid index options), 130 interrupted (run it again to
resume)."""


class CopyError(Exception):
    """A copy that cannot go on; `code` is the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class _NoEncoder:
    """Stands in for the encoder: a copy moves stored vectors and embeds nothing."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("semsearch copy embeds nothing; no encoder is loaded")


def no_encoder() -> "Encoder":
    return cast("Encoder", _NoEncoder())


# -- the two ends: a data folder or a database ---------------------------------------------------
class Store(Protocol):
    """One end of a copy: its collections by name."""

    kind: str  # "a data folder" or "a database"
    where: str  # for messages
    key: str  # names the checkpoint; holds no password

    def names(self) -> list[str]: ...

    def open(self, name: str) -> "CollectionStore | None": ...

    def check(self, config: "CollectionConfig") -> "CollectionConfig":
        """The config with its index checked (and completed) for this backend; BadInput if
        this backend does not offer it."""
        ...

    def create(self, config: "CollectionConfig") -> "CollectionStore": ...

    def close(self) -> None: ...


class FolderStore:
    """The collections of a data folder, opened one at a time."""

    kind = "a data folder"

    def __init__(self, path: Path, as_source: bool) -> None:
        from app.store.embedded.layout import DOCSTORE_FILE

        self.path = path.expanduser().resolve()
        self.where = str(self.path)
        self.key = f"dir:{self.path}"
        self._docstore_file = DOCSTORE_FILE
        self.as_source = as_source
        self._open: list[CollectionStore] = []
        if as_source and not self.path.is_dir():
            raise CopyError(f"--from: no data folder at {self.path}", EXIT_USAGE)
        if self.path.exists() and not self.path.is_dir():
            raise CopyError(f"--to: {self.path} is a file, not a data folder", EXIT_USAGE)

    def names(self) -> list[str]:
        from app.store.interface import NAME_PATTERN

        if not self.path.is_dir():
            return []
        return sorted(
            f.name
            for f in self.path.iterdir()
            if f.is_dir() and NAME_PATTERN.fullmatch(f.name) and (f / self._docstore_file).exists()
        )

    def open(self, name: str) -> "CollectionStore | None":
        from app.store.embedded.collection import Collection

        if name not in self.names():
            return None
        collection = Collection.open(self.path / name, no_encoder(), search_batching=False)
        self._open.append(collection)
        return collection

    def check(self, config: "CollectionConfig") -> "CollectionConfig":
        from dataclasses import replace

        from app.store.embedded.index_spec import parse_index

        spec = parse_index(config.index, config.index_options, config.dimension)
        return replace(config, index=spec.index, index_options=spec.options)

    def create(self, config: "CollectionConfig") -> "CollectionStore":
        from app.store.embedded.collection import Collection

        self.path.mkdir(parents=True, exist_ok=True)
        collection = Collection.create(
            self.path / config.name, self.check(config), no_encoder(), search_batching=False
        )
        self._open.append(collection)
        return collection

    def close(self) -> None:
        """Close the collections; on the target, each saves its vector index first, so that
        the service opens it without rebuilding it. Nothing of a source is written."""
        for collection in self._open:
            try:
                if not self.as_source:
                    collection.snapshot()
            finally:
                collection.close()
        self._open.clear()


class DatabaseStore:
    """The collections of a PostgreSQL database."""

    kind = "a database"

    def __init__(self, url: str, as_source: bool) -> None:
        import psycopg

        from app.errors import DatabaseUnavailable
        from app.store.postgres.catalog import PgCatalog
        from app.store.postgres.database import Database

        try:
            info = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            flag = "--from" if as_source else "--to"
            raise CopyError(f"{flag}: not a PostgreSQL URL ({exc})", EXIT_USAGE) from exc
        info.pop("password", None)
        self.key = "db:" + " ".join(f"{k}={info[k]}" for k in sorted(info))
        self.db = Database(url, pool_size=2)
        self.where = self.db.where
        try:
            if as_source and not self._has_schema(url):
                raise CopyError(f"--from: {self.where} holds no semsearch collections", EXIT_USAGE)
            self.db.open()
        except DatabaseUnavailable as exc:
            self.db.close()
            raise CopyError(exc.message) from exc
        except CopyError:
            self.db.close()
            raise
        self.catalog = PgCatalog(self.db, no_encoder())

    def _has_schema(self, url: str) -> bool:
        import psycopg

        from app.store.postgres.database import first_line, one

        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                return one(conn, "SELECT to_regclass('semsearch_collections')") is not None
        except psycopg.OperationalError as exc:
            raise CopyError(
                f"--from: {self.where} is unavailable ({first_line(exc)[:200]})"
            ) from exc

    def names(self) -> list[str]:
        return self.catalog.names()

    def open(self, name: str) -> "CollectionStore | None":
        from app.errors import NotFound

        try:
            return self.catalog.get(name)
        except NotFound:
            return None

    def check(self, config: "CollectionConfig") -> "CollectionConfig":
        from dataclasses import replace

        from app.store.postgres.index import parse_pg_index

        spec = parse_pg_index(config.index, config.index_options)
        return replace(config, index=spec.index, index_options=spec.options)

    def create(self, config: "CollectionConfig") -> "CollectionStore":
        self.catalog.create_from_config(self.check(config))
        return self.catalog.get(config.name)

    def close(self) -> None:
        self.catalog.close()


def is_database(spec: str) -> bool:
    """Whether `spec` names a database: a postgresql:// URL or a libpq "key=value" string."""
    if spec.startswith(URL_PREFIXES):
        return True
    if "=" not in spec:
        return False
    import psycopg

    try:
        psycopg.conninfo.conninfo_to_dict(spec)
    except psycopg.ProgrammingError:
        return False
    return True


def open_store(spec: str, as_source: bool) -> Store:
    """A data folder or, for a postgresql:// URL (or libpq connection string), a database."""
    if is_database(spec):
        return DatabaseStore(spec, as_source)
    if "://" in spec:
        flag = "--from" if as_source else "--to"
        raise CopyError(
            f"{flag}: {spec.split('://')[0]}:// is not supported; give a data folder or a "
            "postgresql:// URL",
            EXIT_USAGE,
        )
    return FolderStore(Path(spec), as_source)


# -- the target's configuration ----------------------------------------------------------------
def target_config(
    config: "CollectionConfig",
    target: Store,
    index: str | None,
    index_options: dict[str, Any] | None,
) -> tuple["CollectionConfig", str | None]:
    """The configuration of the collection to create on the target, and a note when its index
    differs from the source's. Asked for with --index: that one, or CopyError."""
    from dataclasses import replace

    from app.errors import BadInput

    if index is not None or index_options is not None:
        wanted = replace(
            config, index=index or config.index, index_options=dict(index_options or {})
        )
        try:
            return target.check(wanted), None
        except BadInput as exc:
            raise CopyError(f"--index: {exc.message}", EXIT_USAGE) from exc
    try:
        return target.check(config), None
    except BadInput as exc:
        refused = exc.message
    kind = config.index if config.index in INDEX_TYPES else "flat"
    portable = {k: v for k, v in config.index_options.items() if k in PORTABLE_OPTIONS}
    for options in (portable, {k: v for k, v in portable.items() if k == "then"}, None):
        candidate = (
            replace(config, index=kind, index_options=options)
            if options is not None
            else replace(config, index="flat", index_options={})
        )
        try:
            checked = target.check(candidate)
        except BadInput:
            continue
        note = (
            f"index {config.index!r} {json.dumps(config.index_options, sort_keys=True)} does "
            f"not fit {target.kind} as it is ({refused}); created with index {checked.index!r} "
            f"{json.dumps(checked.index_options, sort_keys=True)} (--index chooses another)"
        )
        return checked, note
    raise CopyError(f"{config.name}: no index of the target fits ({refused})")


def check_compatible(source: "CollectionConfig", target: "CollectionConfig") -> None:
    """An existing target collection must hold vectors of the same encoder."""
    mine = (source.model, source.dimension, source.normalized)
    theirs = (target.model, target.dimension, target.normalized)
    if mine != theirs:
        raise CopyError(
            f"collection {source.name!r} exists on the target with encoder {target.model!r} "
            f"(dimension {target.dimension}); the source's is {source.model!r} (dimension "
            f"{source.dimension}): delete it there or copy another collection"
        )


# -- checkpoints -------------------------------------------------------------------------------
@dataclass
class Checkpoint:
    """Where a copy of one collection got to: the last `num` of the source copied, and the id
    of that document, which the target must still hold for a resume."""

    path: Path
    after: int = 0
    copied: int = 0
    last_id: str | None = None

    @classmethod
    def at(cls, source: Store, target: Store, name: str) -> "Checkpoint":
        key = hashlib.sha256(f"{source.key}\n{target.key}\n{name}".encode()).hexdigest()[:24]
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return cls(cache / "semsearch" / "copy-state" / f"{key}.json")

    def load(self) -> bool:
        """Read the recorded progress; False when there is none (or it cannot be read)."""
        try:
            body = json.loads(self.path.read_text())
            self.after, self.copied = int(body["after"]), int(body["copied"])
            self.last_id = str(body["last_id"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return True

    def save(self, source: Store, target: Store, name: str) -> None:
        body = {
            "source": source.where,
            "target": target.where,
            "collection": name,
            "after": self.after,
            "copied": self.copied,
            "last_id": self.last_id,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        part = self.path.with_suffix(".part")
        part.write_text(json.dumps(body))
        os.replace(part, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


# -- the copy ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    name: str
    documents: int
    chunks: int
    this_run: int
    resumed_from: int
    seconds: float
    mismatch: str | None = None


class Progress:
    """A progress bar on stderr over a collection's documents; silent when stderr is not a
    terminal."""

    def __init__(self, name: str, total: int, done: int) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            initial=done,
            unit="doc",
            desc=f"copy {name}",
            file=sys.stderr,
            disable=None,
            dynamic_ncols=True,
        )

    def advance(self, documents: int) -> None:
        self.bar.update(documents)

    def close(self) -> None:
        self.bar.close()


def copy_collection(
    source: Store,
    target: Store,
    name: str,
    batch: int,
    restart: bool,
    index: str | None = None,
    index_options: dict[str, Any] | None = None,
) -> Outcome:
    """Copy one collection page by page, resuming from its checkpoint; counts compared."""
    started = time.monotonic()
    origin = source.open(name)
    if origin is None:
        raise CopyError(f"collection {name!r} is not in {source.where}", EXIT_USAGE)
    checkpoint = Checkpoint.at(source, target, name)
    found = not restart and checkpoint.load()
    dest = target.open(name)
    if dest is None:
        config, note = target_config(origin.config, target, index, index_options)
        if note:
            print(f"collection {name!r}: {note}", file=sys.stderr)
        dest = target.create(config)
        found = False
    else:
        check_compatible(origin.config, dest.config)
        if found and (checkpoint.last_id is None or dest.get(checkpoint.last_id) is None):
            print(
                f"collection {name!r}: the target does not hold the last document the "
                "checkpoint names; copying from the start",
                file=sys.stderr,
            )
            found = False
    if not found:
        checkpoint = Checkpoint(checkpoint.path)
    resumed_from = checkpoint.copied
    if resumed_from:
        print(
            f"collection {name!r}: resuming after {plural(resumed_from, 'document')} copied before",
            file=sys.stderr,
        )
    total = origin.counts()["documents"]
    progress = Progress(name, max(total, checkpoint.copied), checkpoint.copied)
    try:
        while page := origin.export(checkpoint.after, batch):
            dest.store([row for _, row in page])
            checkpoint.after = page[-1][0]
            checkpoint.copied += len(page)
            checkpoint.last_id = page[-1][1].id
            checkpoint.save(source, target, name)
            progress.advance(len(page))
    finally:
        progress.close()
    theirs, mine = dest.counts(), origin.counts()
    outcome = Outcome(
        name,
        mine["documents"],
        mine["chunks"],
        checkpoint.copied - resumed_from,
        resumed_from,
        time.monotonic() - started,
    )
    if theirs != mine:
        outcome.mismatch = (
            f"counts differ: source {_counts(mine)}, target {_counts(theirs)} (was the source "
            "written to during the copy, or did the target hold other documents?)"
        )
    checkpoint.remove()
    return outcome


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{plural(counts[k], k[:-1])}" for k in ("documents", "chunks", "vectors"))


# -- the command -------------------------------------------------------------------------------
def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "copy",
        help="copy collections between data folders and databases, without embedding again",
        description="Copy collections (configuration, documents, metadata, chunks and vectors)\n"
        "from a data folder or a PostgreSQL database to another.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from", dest="source", required=True, metavar="DIR_OR_URL", help="where to copy from"
    )
    parser.add_argument(
        "--to", dest="target", required=True, metavar="DIR_OR_URL", help="where to copy to"
    )
    parser.add_argument(
        "--collection",
        action="append",
        metavar="NAME",
        help="a collection to copy (repeat for more; default: all of them)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=DEFAULT_BATCH,
        help=f"documents per transaction (1-{MAX_BATCH}, default {DEFAULT_BATCH})",
    )
    parser.add_argument(
        "--index", help="index of the collections created on the target (default: the source's)"
    )
    parser.add_argument(
        "--index-options", metavar="JSON", help="their index options, a JSON object"
    )
    parser.add_argument(
        "--restart", action="store_true", help="ignore the checkpoint and copy from the start"
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Copy the collections and report; the exit status says whether every count matched."""
    from app.errors import ServiceError

    if not 1 <= args.batch <= MAX_BATCH:
        parser.error(f"--batch: {args.batch} is out of range; allowed 1-{MAX_BATCH}")
    options: dict[str, Any] | None = None
    if args.index_options is not None:
        try:
            options = json.loads(args.index_options)
        except ValueError as exc:
            parser.error(f"--index-options: not JSON ({exc})")
        if not isinstance(options, dict):
            parser.error("--index-options: must be a JSON object")
    stores: list[Store] = []
    current: str | None = None
    try:
        source = open_store(args.source, as_source=True)
        stores.append(source)
        target = open_store(args.target, as_source=False)
        stores.append(target)
        if source.key == target.key:
            raise CopyError("--to: the same place as --from", EXIT_USAGE)
        names = _chosen(source, args.collection)
        failed = False
        for name in names:
            current = name
            outcome = copy_collection(
                source, target, name, args.batch, args.restart, args.index, options
            )
            if outcome.mismatch:
                failed = True
                print(f"collection {name!r}: {outcome.mismatch}", file=sys.stderr)
                continue
            resumed = f", resumed after {outcome.resumed_from}" if outcome.resumed_from else ""
            print(
                f"copied collection {name!r} to {target.where}: "
                f"{plural(outcome.documents, 'document')}, {plural(outcome.chunks, 'chunk')} "
                f"({outcome.this_run} this run{resumed}, {outcome.seconds:.1f} s); counts match"
            )
        return EXIT_FAILED if failed else EXIT_OK
    except CopyError as exc:
        print(f"semsearch copy: {exc.message}", file=sys.stderr)
        return exc.code
    except ServiceError as exc:
        where = f"collection {current!r}: " if current else ""
        print(f"semsearch copy: {where}{exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        where = f" collection {current!r}" if current else ""
        print(
            f"semsearch copy: interrupted{where}; run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        for store in reversed(stores):
            store.close()


def _chosen(source: Store, wanted: list[str] | None) -> list[str]:
    from app.errors import BadInput
    from app.store.interface import validate_name

    held = source.names()
    if not wanted:
        if not held:
            raise CopyError(f"--from: {source.where} holds no collections", EXIT_USAGE)
        return held
    for name in wanted:
        try:
            validate_name(name)
        except BadInput as exc:
            raise CopyError(f"--collection: {exc.message}", EXIT_USAGE) from exc
        if name not in held:
            listed = ", ".join(held) if held else "none"
            raise CopyError(
                f"--collection: {name!r} is not a collection of {source.where} "
                f"(it holds: {listed})",
                EXIT_USAGE,
            )
    return list(dict.fromkeys(wanted))
