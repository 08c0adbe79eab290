"""Files to ingest from the command line: found in folders, named by relative path, and a
record of the files already stored so that an interrupted ingest resumes where it stopped."""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.ingest.parsers import DEFAULT_TEXT_COLUMN, SUPPORTED_EXTENSIONS

STATE_VERSION = 1


@dataclass(frozen=True)
class SourceFile:
    """A file on disk and the name its documents get: its path relative to the parent of the
    folder (or file) given on the command line, with "/" separators."""

    path: Path
    name: str
    size: int
    mtime_ns: int


@dataclass
class FoundFiles:
    files: list[SourceFile] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def is_supported(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in SUPPORTED_EXTENSIONS


def find_files(paths: list[Path]) -> FoundFiles:
    """Files to ingest, in order: each path as given, folders walked recursively in name order.

    In folders, hidden files and folders are skipped and files of unsupported types are listed
    in `ignored`; a file named directly with an unsupported type is a problem. A file reached
    twice is taken once; two different files with the same relative name are a problem, since
    their documents would take the same ids.
    """
    found = FoundFiles()
    seen_paths: set[str] = set()
    owner_of: dict[str, str] = {}
    for given in paths:
        root = Path(os.path.abspath(given))
        base = root.parent
        candidates = _walk_folder(root, found.problems) if root.is_dir() else [root]
        for path in candidates:
            name = path.relative_to(base).as_posix()
            real = os.path.realpath(path)
            if real in seen_paths:
                continue
            seen_paths.add(real)
            if not is_supported(name):
                if root.is_dir():
                    found.ignored.append(name)
                else:
                    extension = os.path.splitext(name)[1].lower()
                    found.problems.append(
                        f"{name}: unsupported file type {extension or '(no extension)'!r}; "
                        f"supported: {', '.join(SUPPORTED_EXTENSIONS)}"
                    )
                continue
            if name in owner_of:
                found.problems.append(
                    f"{name}: another file ({owner_of[name]}) has the same relative name; "
                    "their documents would take the same ids"
                )
                continue
            try:
                stat = path.stat()
            except OSError as exc:
                found.problems.append(f"{name}: cannot read the file ({exc.strerror})")
                continue
            owner_of[name] = str(path)
            found.files.append(SourceFile(path, name, stat.st_size, stat.st_mtime_ns))
    return found


def _walk_folder(folder: Path, problems: list[str]) -> list[Path]:
    """Regular files under folder, depth first in name order; hidden entries and symbolic
    links to folders are not followed."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as exc:
        problems.append(f"{folder}: cannot read the folder ({exc.strerror})")
        return []
    files: list[Path] = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            files.extend(_walk_folder(Path(entry.path), problems))
        elif entry.is_file():
            files.append(Path(entry.path))
    return files


def fingerprint(source: SourceFile, text_column: str | None) -> dict[str, Any]:
    """What must be unchanged for a stored file to count as done: size, mtime and, for a CSV,
    the column the text was taken from."""
    stamp: dict[str, Any] = {"size": source.size, "mtime_ns": source.mtime_ns}
    if source.name.lower().endswith(".csv"):
        stamp["text_column"] = text_column or DEFAULT_TEXT_COLUMN
    return stamp


class IngestState:
    """Files of one collection already stored, by name, with their fingerprint; saved as JSON
    with an atomic replace so an interruption leaves the old or the new record, never half."""

    def __init__(self, path: Path, header: dict[str, str]) -> None:
        self.path = path
        self.header = header
        self.files: dict[str, dict[str, Any]] = {}

    @classmethod
    def load(cls, path: Path, header: dict[str, str]) -> "IngestState":
        """The saved record, or an empty one when there is none or it cannot be read."""
        state = cls(path, header)
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return state
        if (
            isinstance(saved, dict)
            and saved.get("version") == STATE_VERSION
            and isinstance(saved.get("files"), dict)
        ):
            state.files = {
                name: entry for name, entry in saved["files"].items() if isinstance(entry, dict)
            }
        return state

    def entry(self, name: str) -> dict[str, Any] | None:
        return self.files.get(name)

    def is_done(self, source: SourceFile, text_column: str | None) -> bool:
        entry = self.files.get(source.name)
        if entry is None:
            return False
        wanted = fingerprint(source, text_column)
        return all(entry.get(key) == value for key, value in wanted.items())

    def mark_done(self, source: SourceFile, text_column: str | None, documents: int) -> None:
        self.files[source.name] = {**fingerprint(source, text_column), "documents": documents}

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"version": STATE_VERSION, **self.header, "files": self.files}
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as f:
            json.dump(body, f, ensure_ascii=False, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path)
