"""The work of `semsearch ingest`: files parsed one after another, their documents sent in
batches, each file recorded once all its documents went in."""

import sys
import time
from dataclasses import dataclass, field

from app.cli.output import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from app.cli.sinks import BatchRejected, Sink
from app.ingest.parsers import ParsedDocument, ParseError, parse_file
from app.ingest.walk import IngestState, SourceFile


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
    """One parsed file on its way: done when all its documents were accepted. `replaces`: the
    record knows the file, so what it stored before is replaced."""

    source: SourceFile
    documents: int
    replaces: bool
    accepted: int = 0
    failed: bool = False


@dataclass(eq=False)
class Piece:
    """Consecutive documents of one file that go in the same request."""

    job: FileJob
    documents: list[ParsedDocument]
    first: bool

    @property
    def replace_source(self) -> str | None:
        """The file name when this piece starts a file that replaces its earlier version."""
        return self.job.source.name if self.first and self.job.replaces else None


def replace_source_of(pieces: list[Piece]) -> str | None:
    return next((p.replace_source for p in pieces if p.replace_source), None)


class Ingester:
    """Parses files one after another and sends their documents in requests of `batch_size`;
    the documents of small files share a request. A file counts as done, and is recorded in
    the state, once all its documents were accepted.

    A file the record knows (ingested before, changed since) replaces its earlier version: the
    request holding its first documents names it in `replace_source`, so the documents it no
    longer holds (pages, rows, lines) are deleted in the same transaction that writes its new
    ones; its later requests only add. Until its last request went in, the documents those
    requests rewrite are missing; an interrupted run leaves the file unrecorded, so the next
    run sends it whole again.

    A request carries one `replace_source`, so it holds the start of at most one such file:
    a known file starts a new request when the pending one already starts another. New files'
    documents fill any request, since they have nothing to replace. Files the record does not
    know (a first ingest, --restart, a lost record) are only added, over documents of the same
    ids: sending each of them alone to replace would lose the batching of small files that
    makes a first ingest fast."""

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
        self.pending: list[Piece] = []
        self.pending_documents = 0

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
        if job.replaces and replace_source_of(self.pending):
            self.flush()
        remaining = parsed.documents
        first = True
        while remaining:
            room = self.batch_size - self.pending_documents
            piece, remaining = remaining[:room], remaining[room:]
            self.pending.append(Piece(job, piece, first))
            self.pending_documents += len(piece)
            first = False
            if self.pending_documents >= self.batch_size:
                self.flush()

    def skip(self, source: SourceFile, reason: str) -> None:
        self.report.skipped.append(reason)
        self.progress.advance(source.size)

    def flush(self) -> None:
        batch = [piece for piece in self.pending if not piece.job.failed]
        self.pending, self.pending_documents = [], 0
        if not batch:
            return
        try:
            self._send(batch)
            accepted = batch
        except BatchRejected as exc:
            accepted = self._send_file_by_file(batch, str(exc))
        finished = [piece.job for piece in accepted if self._accept(piece)]
        for job in finished:
            self.state.mark_done(job.source, self.text_column, job.documents)
            self.report.files += 1
            self.report.documents += job.documents
        if finished:
            self.state.save()

    def _send(self, pieces: list[Piece]) -> None:
        documents = [d for piece in pieces for d in piece.documents]
        self.sink.send(documents, replace_source_of(pieces))

    def _send_file_by_file(self, batch: list[Piece], message: str) -> list[Piece]:
        """After a refused batch, send each file's share alone to find the file at fault."""
        jobs = list(dict.fromkeys(piece.job for piece in batch))
        if len(jobs) == 1:
            self._fail(jobs[0], message)
            return []
        accepted: list[Piece] = []
        for job in jobs:
            share = [piece for piece in batch if piece.job is job]
            try:
                self._send(share)
            except BatchRejected as exc:
                self._fail(job, str(exc))
            else:
                accepted.extend(share)
        return accepted

    def _accept(self, piece: Piece) -> bool:
        """Count an accepted piece; True when it completes its file."""
        job, count = piece.job, len(piece.documents)
        job.accepted += count
        self.progress.advance(job.source.size * count / job.documents, count)
        return job.accepted == job.documents and not job.failed

    def _fail(self, job: FileJob, message: str) -> None:
        job.failed = True
        self.report.skipped.append(f"{job.source.name}: refused: {message}")
        left = job.documents - job.accepted
        self.progress.advance(job.source.size * left / job.documents)
