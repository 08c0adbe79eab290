"""`semsearch ingest`: files and folders into a collection, through a running service (--url)
or straight into a data folder (--data-dir); an interrupted run resumes."""

import argparse
import os
import sys
import time
from pathlib import Path

from app.cli.client import (
    ServiceClient,
    TargetUnavailable,
    add_api_key_argument,
    add_url_argument,
)
from app.cli.ingester import Ingester, IngestReport, Progress
from app.cli.output import EXIT_FAILED, EXIT_USAGE, plural
from app.cli.sinks import BatchRejected, DataDirSink, UrlSink, UsageError
from app.ingest.walk import IngestState, find_files

DEFAULT_BATCH = 256
MAX_WARNINGS_SHOWN = 10

EPILOG = """\
examples:
  semsearch ingest docs/ --collection docs
  semsearch ingest notes.md faq.jsonl table.csv --collection kb --text-column body
  semsearch ingest docs/ --collection docs --url http://search.internal:8000 --batch 64
  semsearch ingest docs/ --collection docs --data-dir ./index_data   # service stopped

Folders are walked recursively in name order; hidden files and folders are skipped, and so are
files of other types than .txt .md .markdown .html .htm .pdf .jsonl .csv. Documents are named
by their path relative to the parent of the folder given (docs/guide/README.md), so running
the command again replaces them instead of adding copies.

An interrupted ingest resumes: files already ingested whose size and modification time are
unchanged are not sent again. The record is kept in the collection's folder (--data-dir) or
in $XDG_CACHE_HOME/semsearch/ingest-state/ (default ~/.cache/...) for --url; --restart sends
everything again. A changed file replaces its earlier version: its pages, rows or lines that
are gone are removed in the same write that stores its new ones.

exit status: 0 every file went in, 1 some files failed (listed), 2 wrong arguments,
130 interrupted."""


def add_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = commands.add_parser(
        "ingest",
        help="index files and folders into a collection",
        description="Parse files (and folders, recursively) into documents and store them in a\n"
        "collection, through a running service (--url) or straight into a data folder\n"
        "(--data-dir).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files and folders")
    parser.add_argument("--collection", required=True, help="collection name (created if new)")
    target = parser.add_mutually_exclusive_group()
    add_url_argument(target)
    target.add_argument(
        "--data-dir",
        help="write into this data folder in-process instead; the service must NOT be running "
        "on that folder at the same time",
    )
    add_api_key_argument(parser)
    parser.add_argument("--text-column", help="CSV column holding the text (default text)")
    parser.add_argument(
        "--batch",
        type=int,
        default=DEFAULT_BATCH,
        help=f"documents per request (default {DEFAULT_BATCH})",
    )
    parser.add_argument(
        "--restart", action="store_true", help="ignore the record of files already ingested"
    )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    paths = [Path(p) for p in args.paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        parser.error(f"no such file or folder: {', '.join(missing)}")
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    started = time.monotonic()
    found = find_files(paths)
    report = IngestReport(ignored=found.ignored, skipped=list(found.problems))
    sink: UrlSink | DataDirSink
    try:
        if args.data_dir is not None:
            sink = DataDirSink(Path(args.data_dir), args.collection)
        else:
            sink = UrlSink(ServiceClient(args.url, args.api_key), args.collection)
    except UsageError as exc:
        print(f"semsearch ingest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        try:
            description = sink.describe()
        except UsageError as exc:
            print(f"semsearch ingest: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except (TargetUnavailable, BatchRejected) as exc:
            print(f"semsearch ingest: {exc}", file=sys.stderr)
            return EXIT_FAILED
        if description is not None and description.get("detail"):
            print(f"semsearch ingest: {description['detail']}", file=sys.stderr)
            return EXIT_FAILED
        header = {"collection": args.collection, "target": sink.target}
        if args.restart or description is None or description.get("documents") == 0:
            state = IngestState(sink.state_path, header)
        else:
            state = IngestState.load(sink.state_path, header)
        todo = [f for f in found.files if not state.is_done(f, args.text_column)]
        report.already_done = len(found.files) - len(todo)
        progress = Progress(sum(f.size for f in todo))
        ingester = Ingester(sink, state, report, progress, args.text_column, args.batch)
        try:
            ingester.run(todo)
        except TargetUnavailable as exc:
            report.stopped = str(exc)
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            progress.close()
            report.sending_s = time.monotonic() - progress.started
    finally:
        sink.close()
    report.elapsed_s = time.monotonic() - started
    print_report(report, sink.target)
    return report.exit_code


def print_report(report: IngestReport, target: str) -> None:
    rate = report.documents / report.sending_s if report.sending_s > 0 else 0.0
    print(
        f"ingested {plural(report.files, 'file')} ({plural(report.documents, 'document')}) "
        f"into {target} in {report.elapsed_s:.1f} s ({rate:.1f} documents/s)"
    )
    if report.already_done:
        print(
            f"already ingested, not sent again: {plural(report.already_done, 'file')} "
            "(--restart sends them again)"
        )
    if report.ignored:
        types = sorted({os.path.splitext(n)[1].lower() or "(no extension)" for n in report.ignored})
        print(f"ignored {plural(len(report.ignored), 'file')} of other types ({', '.join(types)})")
    if report.skipped:
        print(f"skipped {plural(len(report.skipped), 'file')}:")
        for reason in report.skipped:
            print(f"  {reason}")
    print(f"warnings: {len(report.warnings)}")
    for warning in report.warnings[:MAX_WARNINGS_SHOWN]:
        print(f"  {warning}")
    if len(report.warnings) > MAX_WARNINGS_SHOWN:
        print(f"  ... and {len(report.warnings) - MAX_WARNINGS_SHOWN} more")
    if report.stopped:
        print(f"stopped: {report.stopped}")
    if report.stopped or report.interrupted:
        print("run the same command again to resume: files already ingested are not sent again")
