"""`semsearch restore`: a snapshot folder back into a data folder as a collection."""

import argparse
import sys
from pathlib import Path

from app.cli.output import EXIT_FAILED, EXIT_OK, EXIT_USAGE, plural
from app.config import Settings

EPILOG = """\
examples:
  semsearch restore index_data/.snapshots/docs-20250101T120000Z
  semsearch restore /backups/docs-20250101T120000Z --data-dir /srv/semsearch --name docs_old
  semsearch restore /backups/docs-20250101T120000Z --force    # replace the collection docs

Take snapshots with POST /collections/{name}/snapshot. The files are checked against the
manifest's checksums, copied into a hidden folder of the data folder and renamed into place, so
a failed restore leaves nothing behind. Restore while the service is stopped; a collection
restored beside a running service is served from its next start.

exit status: 0 restored, 1 the collection exists (give --force or --name) or the data folder
cannot be written, 2 a missing, damaged or unknown snapshot, or an invalid name."""


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "restore",
        help="bring a collection snapshot back into a data folder",
        description="Restore a snapshot folder (written by POST /collections/{name}/snapshot)\n"
        "as a collection of a data folder.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("snapshot", metavar="SNAPSHOT_PATH", help="the snapshot folder")
    parser.add_argument(
        "--data-dir", help="data folder to restore into (SEMSEARCH_DATA_DIR, default ./index_data)"
    )
    parser.add_argument("--name", help="collection name (default: the snapshot's)")
    parser.add_argument(
        "--force", action="store_true", help="replace a collection of that name if it exists"
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Copy a snapshot folder into a data folder as a collection."""
    from app.errors import BadInput, Conflict
    from app.store.embedded.backup import restore_snapshot

    data_dir = Path(args.data_dir) if args.data_dir is not None else Settings().data_dir
    try:
        restored = restore_snapshot(Path(args.snapshot), data_dir, args.name, args.force)
    except BadInput as exc:
        print(f"semsearch restore: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except Conflict as exc:
        print(f"semsearch restore: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        print(f"semsearch restore: cannot restore into {data_dir}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    m = restored.snapshot.manifest
    print(
        f"restored collection {restored.name!r} into {restored.folder}: "
        f"{plural(m.documents, 'document')}, {plural(m.chunks, 'chunk')}, seq {m.seq}, "
        f"from the snapshot of {m.collection!r} taken {m.created} ({restored.snapshot.path})"
    )
    if restored.replaced:
        print(f"the collection {restored.name!r} that was there before was replaced")
    print("start the service on that data folder (or restart it) to serve the collection")
    return EXIT_OK
