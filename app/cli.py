"""Command line: `semsearch serve`, `eval`, `ingest`, `search` and `restore`."""

import argparse
import hashlib
import json
import logging
import logging.config
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, get_args
from urllib.parse import quote

import httpx

from app.config import EncoderBackend, Settings
from app.ingest.parsers import ParsedDocument, ParseError, parse_file
from app.ingest.walk import IngestState, SourceFile, find_files

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_BATCH = 256
RETRY_DELAYS_S: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
MAX_RETRY_AFTER_S = 30.0
REQUEST_TIMEOUT = httpx.Timeout(300.0, connect=10.0)
DATA_DIR_STATE_FILE = "ingest-state.json"
MAX_WARNINGS_SHOWN = 10
PREVIEW_CHARS = 80
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def serve(settings: Settings) -> None:
    import uvicorn

    from app.api.auth import ApiKeyConfigError, load_api_keys, warn_about_access
    from app.logging_setup import logging_config

    try:
        keys = load_api_keys(settings)  # a bad key configuration stops here, before any model
    except ApiKeyConfigError as exc:
        print(f"semsearch serve: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    log_config = logging_config(settings.log_format, settings.log_level)
    logging.config.dictConfig(log_config)
    warn_about_access(settings.host, keys)

    from app.main import create_app

    app = create_app(settings)
    # uvicorn finishes in-flight requests on SIGTERM, runs the shutdown (which snapshots every
    # index), then re-raises the signal; this handler makes that a clean exit 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=log_config,
        access_log=False,  # the service logs one line per request itself
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
    )


def evaluate(
    dataset_dir: str, collection_name: str, data_dir: str | None, modes: list[str]
) -> None:
    """Index a BEIR-layout dataset into a collection and print each mode's metrics."""
    import tempfile
    from pathlib import Path

    from app.evaluation import evaluate_modes, index_dataset, load_beir
    from app.models.encoder import Encoder
    from app.store.catalog import Catalog

    dataset = load_beir(Path(dataset_dir))
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(data_dir) if data_dir else Path(tmp)
        catalog = Catalog(folder, Encoder.from_settings(settings))
        catalog.open_all()
        collection = catalog.get_or_create(collection_name)
        index_dataset(collection, dataset)
        table = evaluate_modes(collection, dataset, modes)
        catalog.close()
    print(f"{dataset_dir}: {len(dataset.corpus)} documents, {len(dataset.queries)} queries")
    metrics = ["ndcg@10", "recall@10", "recall@100", "mrr@10"]
    print(f"{'mode':<10}" + "".join(f"{m:>12}" for m in metrics))
    for mode, scores in table.items():
        print(f"{mode:<10}" + "".join(f"{scores[m]:>12.3f}" for m in metrics))


# -- talking to the service ------------------------------------------------------------------
class BatchRejected(Exception):
    """The target refused a request (a 4xx, or a bad input in-process); str() says why."""


class TargetUnavailable(Exception):
    """The service could not be reached, or kept failing through every retry."""


class UsageError(Exception):
    """A wrong argument found only once the target answered (e.g. an invalid name)."""


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The bearer header for a service with API keys; none without a key."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def add_api_key_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-key",
        default=os.environ.get("SEMSEARCH_API_KEY"),
        help="key sent as 'Authorization: Bearer KEY' (default: $SEMSEARCH_API_KEY)",
    )


def error_message(response: httpx.Response) -> str:
    """The service's error message from a reply, else the start of the body."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text.strip()[:500] or response.reason_phrase
    return f"HTTP {response.status_code}: {message}"


def _is_retryable(status: int) -> bool:
    return status >= 500 or status == 429


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    try:
        return min(float(response.headers["Retry-After"]), MAX_RETRY_AFTER_S)
    except (KeyError, ValueError):
        return None


class Sink(Protocol):
    """Where ingested documents go: a running service, or a data folder in-process."""

    target: str
    state_path: Path

    def send(self, documents: list[ParsedDocument]) -> None: ...

    def remove_stale(self, source: str, keep: set[str]) -> None: ...

    def close(self) -> None: ...


class UrlSink:
    """A running service, over HTTP. Server errors and lost connections are retried with
    growing pauses (bounded: RETRY_DELAYS_S); a 4xx is the caller's to report."""

    def __init__(
        self,
        url: str,
        collection: str,
        client: httpx.Client | None = None,
        api_key: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.collection = collection
        self.target = f"collection {collection!r} at {self.url}"
        self.client = client or httpx.Client(
            base_url=self.url, timeout=REQUEST_TIMEOUT, headers=auth_headers(api_key)
        )
        self.path = f"/collections/{quote(collection, safe='')}"
        self.delays: tuple[float, ...] = RETRY_DELAYS_S
        key = hashlib.sha256(f"{self.url}\n{collection}".encode()).hexdigest()[:16]
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        self.state_path = cache / "semsearch" / "ingest-state" / f"{key}.json"

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The reply to a request, retried on 5xx, 429 and transport errors."""
        for attempt in range(len(self.delays) + 1):
            response: httpx.Response | None = None
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if not _is_retryable(response.status_code):
                    return response
                problem = error_message(response)
            if attempt == len(self.delays):
                raise TargetUnavailable(
                    f"{method} {self.url}{path} failed {attempt + 1} times; last: {problem}"
                )
            time.sleep(_retry_after(response) or self.delays[attempt])
        raise AssertionError("unreachable")

    def describe(self) -> dict[str, Any] | None:
        """The collection's description, or None if it does not exist yet."""
        response = self.request("GET", self.path)
        if response.status_code == 404:
            return None
        if response.status_code == 400:
            raise UsageError(error_message(response))
        if response.status_code >= 400:
            raise BatchRejected(error_message(response))
        description: dict[str, Any] = response.json()
        return description

    def send(self, documents: list[ParsedDocument]) -> None:
        body = {
            "documents": [{"id": d.id, "text": d.text, "metadata": d.metadata} for d in documents]
        }
        response = self.request("POST", f"{self.path}/documents", json=body)
        if response.status_code >= 400:
            raise BatchRejected(error_message(response))

    def remove_stale(self, source: str, keep: set[str]) -> None:
        """Not done over HTTP: a changed file's documents are replaced by id, and ids it no
        longer holds stay until deleted (DELETE /collections/{name}/documents/{id})."""

    def close(self) -> None:
        self.client.close()


class DataDirSink:
    """A data folder, written in-process through the catalog; the service must not be running
    on it at the same time."""

    def __init__(self, data_dir: Path, collection: str) -> None:
        from app.errors import BadInput
        from app.models.encoder import Encoder
        from app.store.catalog import Catalog, validate_name

        try:
            validate_name(collection)
        except BadInput as exc:
            raise UsageError(exc.message) from exc
        self.settings = Settings()
        self.catalog = Catalog(data_dir, Encoder.from_settings(self.settings))
        self.catalog.open_all()
        self.collection = self.catalog.get_or_create(collection)
        self.target = f"collection {collection!r} in {data_dir}"
        self.state_path = self.collection.folder / DATA_DIR_STATE_FILE

    def describe(self) -> dict[str, Any]:
        return {
            "documents": self.collection.counts()["documents"],
            "detail": self.collection.encoder_mismatch,
        }

    def send(self, documents: list[ParsedDocument]) -> None:
        from app.errors import ServiceError
        from app.store.collection import NewDocument

        try:
            self.collection.upsert(
                [NewDocument(d.text, d.id, d.metadata) for d in documents],
                self.settings.chunk_tokens,
                self.settings.chunk_overlap,
            )
        except ServiceError as exc:
            raise BatchRejected(exc.message) from exc

    def remove_stale(self, source: str, keep: set[str]) -> None:
        """Delete the documents of an earlier version of `source` (pages, rows or lines it no
        longer has), sparing every id in `keep`."""
        stale = [i for i in self.collection.ids_matching({"source": source}) if i not in keep]
        if stale:
            self.collection.delete(stale)

    def close(self) -> None:
        self.catalog.close()


# -- ingest ----------------------------------------------------------------------------------
class Progress:
    """A progress bar on stderr over the bytes of the files to ingest (for the ETA), showing
    documents and documents per second; silent when stderr is not a terminal."""

    def __init__(self, total_bytes: int) -> None:
        from tqdm import tqdm

        self.started = time.monotonic()
        self.documents = 0
        self.bar = tqdm(
            total=total_bytes,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc="ingest",
            file=sys.stderr,
            disable=None,
            dynamic_ncols=True,
        )

    def advance(self, size: float, documents: int = 0) -> None:
        self.documents += documents
        rate = self.documents / max(time.monotonic() - self.started, 1e-6)
        self.bar.set_postfix_str(f"{self.documents} docs, {rate:.1f} docs/s", refresh=False)
        self.bar.update(size)

    def close(self) -> None:
        self.bar.close()


@dataclass
class IngestReport:
    files: int = 0
    documents: int = 0
    already_done: int = 0
    ignored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stopped: str | None = None
    interrupted: bool = False
    elapsed_s: float = 0.0
    sending_s: float = 0.0

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_FAILED if self.skipped or self.stopped else EXIT_OK


@dataclass(eq=False)
class FileJob:
    """One parsed file on its way: done when all its documents were accepted."""

    source: SourceFile
    documents: int
    changed: bool
    accepted: int = 0
    failed: bool = False


class Ingester:
    """Parses files one after another and sends their documents in batches of `batch_size`;
    the documents of small files share a batch. A file counts as done, and is recorded in the
    state, once all its documents were accepted."""

    def __init__(
        self,
        sink: Sink,
        state: IngestState,
        report: IngestReport,
        progress: Progress,
        text_column: str | None,
        batch_size: int,
    ) -> None:
        self.sink = sink
        self.state = state
        self.report = report
        self.progress = progress
        self.text_column = text_column
        self.batch_size = batch_size
        self.pending: list[tuple[FileJob, list[ParsedDocument]]] = []
        self.pending_documents = 0
        self.sent_ids: set[str] = set()

    def run(self, files: list[SourceFile]) -> None:
        for source in files:
            self.add(source)
        self.flush()

    def add(self, source: SourceFile) -> None:
        try:
            parsed = parse_file(source.name, source.path.read_bytes(), self.text_column)
        except ParseError as exc:
            self.skip(source, str(exc))
            return
        except OSError as exc:
            self.skip(source, f"{source.name}: cannot read the file ({exc.strerror})")
            return
        self.report.warnings.extend(parsed.warnings)
        job = FileJob(source, len(parsed.documents), self.state.entry(source.name) is not None)
        remaining = parsed.documents
        while remaining:
            room = self.batch_size - self.pending_documents
            piece, remaining = remaining[:room], remaining[room:]
            self.pending.append((job, piece))
            self.pending_documents += len(piece)
            if self.pending_documents >= self.batch_size:
                self.flush()

    def skip(self, source: SourceFile, reason: str) -> None:
        self.report.skipped.append(reason)
        self.progress.advance(source.size)

    def flush(self) -> None:
        batch = [(job, piece) for job, piece in self.pending if not job.failed]
        self.pending, self.pending_documents = [], 0
        if not batch:
            return
        try:
            self.sink.send([d for _, piece in batch for d in piece])
            accepted = batch
        except BatchRejected as exc:
            accepted = self._send_file_by_file(batch, str(exc))
        finished = [job for job, piece in accepted if self._accept(job, piece)]
        for job in finished:
            if job.changed:
                self.sink.remove_stale(job.source.name, self.sent_ids)
            self.state.mark_done(job.source, self.text_column, job.documents)
            self.report.files += 1
            self.report.documents += job.documents
        if finished:
            self.state.save()

    def _send_file_by_file(
        self, batch: list[tuple[FileJob, list[ParsedDocument]]], message: str
    ) -> list[tuple[FileJob, list[ParsedDocument]]]:
        """After a refused batch, send each file's share alone to find the file at fault."""
        jobs = list(dict.fromkeys(job for job, _ in batch))
        if len(jobs) == 1:
            self._fail(jobs[0], message)
            return []
        accepted: list[tuple[FileJob, list[ParsedDocument]]] = []
        for job in jobs:
            share = [(j, piece) for j, piece in batch if j is job]
            try:
                self.sink.send([d for _, piece in share for d in piece])
            except BatchRejected as exc:
                self._fail(job, str(exc))
            else:
                accepted.extend(share)
        return accepted

    def _accept(self, job: FileJob, piece: list[ParsedDocument]) -> bool:
        """Count an accepted piece; True when it completes the file."""
        self.sent_ids.update(d.id for d in piece)
        job.accepted += len(piece)
        self.progress.advance(job.source.size * len(piece) / job.documents, len(piece))
        return job.accepted == job.documents and not job.failed

    def _fail(self, job: FileJob, message: str) -> None:
        job.failed = True
        self.report.skipped.append(f"{job.source.name}: refused: {message}")
        left = job.documents - job.accepted
        self.progress.advance(job.source.size * left / job.documents)


def ingest(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
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
            sink = UrlSink(args.url, args.collection, api_key=args.api_key)
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


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


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


# -- search ----------------------------------------------------------------------------------
def one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def search(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    body: dict[str, Any] = {"query": args.query, "k": args.k, "mode": args.mode}
    if args.filter is not None:
        try:
            body["filter"] = json.loads(args.filter)
        except ValueError as exc:
            parser.error(f"--filter is not valid JSON ({exc})")
        if not isinstance(body["filter"], dict):
            parser.error('--filter must be a JSON object, e.g. {"lang": "en"}')
    url = args.url.rstrip("/")
    try:
        response = httpx.post(
            f"{url}/collections/{quote(args.collection, safe='')}/search",
            json=body,
            timeout=REQUEST_TIMEOUT,
            headers=auth_headers(args.api_key),
        )
    except httpx.HTTPError as exc:
        print(f"semsearch search: cannot reach {url}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if response.status_code >= 400:
        print(f"semsearch search: {error_message(response)}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(response.text)
        return EXIT_OK
    results = response.json()["results"]
    if not results:
        print("no results")
        return EXIT_OK
    id_width = max(len("id"), *(len(hit["id"]) for hit in results))
    print(f"{'rank':>4}  {'score':>7}  {'id':<{id_width}}  text")
    for rank, hit in enumerate(results, start=1):
        text = one_line(hit["text"], PREVIEW_CHARS)
        print(f"{rank:>4}  {hit['score']:>7.3f}  {hit['id']:<{id_width}}  {text}")
    return EXIT_OK


# -- restore ---------------------------------------------------------------------------------
def restore(args: argparse.Namespace) -> int:
    """Copy a snapshot folder into a data folder as a collection."""
    from app.errors import BadInput, Conflict
    from app.store.backup import restore_snapshot

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


# -- arguments -------------------------------------------------------------------------------
INGEST_EPILOG = """\
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
everything again. With --data-dir, a changed file's pages, rows or lines that are gone are
removed too; with --url they stay until deleted.

exit status: 0 every file went in, 1 some files failed (listed), 2 wrong arguments,
130 interrupted."""

SEARCH_EPILOG = """\
examples:
  semsearch search "how do I reset my password" --collection docs
  semsearch search "error XJ-4471" --collection docs --mode hybrid -k 5
  semsearch search "kitten" --collection docs --filter '{"lang": "en"}' --json

exit status: 0 on success, 1 when the service refused the search or could not be reached."""

RESTORE_EPILOG = """\
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="semsearch", description="Self-hosted semantic search.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_p = sub.add_parser(
        "serve",
        help="start the HTTP service",
        description="Start the service. Every flag has a SEMSEARCH_ environment variable.",
    )
    serve_p.add_argument("--host", help="address to bind (SEMSEARCH_HOST, default 127.0.0.1)")
    serve_p.add_argument("--port", type=int, help="port (SEMSEARCH_PORT, default 8000)")
    serve_p.add_argument(
        "--data-dir", help="data folder (SEMSEARCH_DATA_DIR, default ./index_data)"
    )
    serve_p.add_argument("--encoder", help="sentence-transformers id or path (SEMSEARCH_ENCODER)")
    serve_p.add_argument(
        "--encoder-backend",
        choices=get_args(EncoderBackend),
        help="what runs the encoder (SEMSEARCH_ENCODER_BACKEND, default torch); the onnx "
        "backends need pip install 'semsearch[onnx]'",
    )
    eval_p = sub.add_parser(
        "eval",
        help="measure search quality on a BEIR-layout dataset",
        description="Index DATASET (corpus.jsonl, queries.jsonl, qrels/test.tsv) into a "
        "collection and print nDCG@10, recall@10, recall@100 and MRR@10 for each mode.",
        epilog="example: semsearch eval tests/data/lee --collection lee",
    )
    eval_p.add_argument("dataset", help="folder in the BEIR layout")
    eval_p.add_argument("--collection", default="eval", help="collection name (default eval)")
    eval_p.add_argument(
        "--data-dir", help="keep the collection in this data folder (default: a temporary one)"
    )
    eval_p.add_argument(
        "--modes", default="dense,lexical,hybrid", help="comma-separated search modes"
    )
    ingest_p = sub.add_parser(
        "ingest",
        help="index files and folders into a collection",
        description="Parse files (and folders, recursively) into documents and store them in a\n"
        "collection, through a running service (--url) or straight into a data folder\n"
        "(--data-dir).",
        epilog=INGEST_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ingest_p.add_argument("paths", nargs="+", metavar="PATH", help="files and folders")
    ingest_p.add_argument("--collection", required=True, help="collection name (created if new)")
    target = ingest_p.add_mutually_exclusive_group()
    target.add_argument("--url", default=DEFAULT_URL, help=f"the service (default {DEFAULT_URL})")
    target.add_argument(
        "--data-dir",
        help="write into this data folder in-process instead; the service must NOT be running "
        "on that folder at the same time",
    )
    add_api_key_argument(ingest_p)
    ingest_p.add_argument("--text-column", help="CSV column holding the text (default text)")
    ingest_p.add_argument(
        "--batch",
        type=int,
        default=DEFAULT_BATCH,
        help=f"documents per request (default {DEFAULT_BATCH})",
    )
    ingest_p.add_argument(
        "--restart", action="store_true", help="ignore the record of files already ingested"
    )
    search_p = sub.add_parser(
        "search",
        help="search a collection of a running service",
        description="Search a collection of a running service and print the best documents:\n"
        "rank, score, id and the start of the text.",
        epilog=SEARCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    search_p.add_argument("query", help="the query text")
    search_p.add_argument("--collection", required=True, help="collection name")
    search_p.add_argument("--url", default=DEFAULT_URL, help=f"the service (default {DEFAULT_URL})")
    add_api_key_argument(search_p)
    search_p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    search_p.add_argument(
        "--mode", choices=("dense", "lexical", "hybrid"), default="dense", help="default dense"
    )
    search_p.add_argument("--filter", help='metadata filter as JSON, e.g. \'{"lang": "en"}\'')
    search_p.add_argument("--json", action="store_true", help="print the service's JSON reply")
    restore_p = sub.add_parser(
        "restore",
        help="bring a collection snapshot back into a data folder",
        description="Restore a snapshot folder (written by POST /collections/{name}/snapshot)\n"
        "as a collection of a data folder.",
        epilog=RESTORE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    restore_p.add_argument("snapshot", metavar="SNAPSHOT_PATH", help="the snapshot folder")
    restore_p.add_argument(
        "--data-dir", help="data folder to restore into (SEMSEARCH_DATA_DIR, default ./index_data)"
    )
    restore_p.add_argument("--name", help="collection name (default: the snapshot's)")
    restore_p.add_argument(
        "--force", action="store_true", help="replace a collection of that name if it exists"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "ingest":
        return ingest(args, parser)
    if args.command == "search":
        return search(args, parser)
    if args.command == "restore":
        return restore(args)
    if args.command == "eval":
        evaluate(args.dataset, args.collection, args.data_dir, args.modes.split(","))
        return EXIT_OK
    overrides = {k: v for k, v in vars(args).items() if k != "command" and v is not None}
    settings = Settings(**overrides)
    serve(settings)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
