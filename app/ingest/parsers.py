"""Uploaded files (text, Markdown, HTML, PDF, JSONL, CSV) turned into documents to index."""

import csv
import io
import json
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, NoReturn

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from bs4.element import NavigableString, PageElement, PreformattedString, Tag
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError

from app.store.filters import validate_metadata

SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    ".txt",
    ".md",
    ".markdown",
    ".html",
    ".htm",
    ".pdf",
    ".jsonl",
    ".csv",
)

Scalar = str | int | float | bool | None
MetadataValue = Scalar | list[Scalar]
Metadata = dict[str, MetadataValue]

JSONL_KEYS = ("text", "id", "metadata")
JSONL_RESERVED_KEYS = ("source", "line")
CSV_RESERVED_KEYS = ("source", "row")
CSV_ID_COLUMN = "id"
DEFAULT_TEXT_COLUMN = "text"
MAX_PROBLEMS_IN_ERROR = 3
PDF_HEADER = b"%PDF-"
PDF_HEADER_WINDOW = 1024

HTML_DROPPED_TAGS = ("script", "style", "noscript", "template", "title")
HTML_SEPARATORS = ("", " ", "\n", "\n\n")
HTML_CELL, HTML_LINE, HTML_PARAGRAPH = 1, 2, 3
HTML_BREAKS: dict[str, int] = {
    **dict.fromkeys(("td", "th"), HTML_CELL),
    **dict.fromkeys(("dd", "dt", "li", "tbody", "tfoot", "thead", "tr"), HTML_LINE),
    **dict.fromkeys(
        (
            "address", "article", "aside", "blockquote", "body", "caption", "details", "dialog",
            "div", "dl", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3",
            "h4", "h5", "h6", "header", "hgroup", "hr", "html", "main", "nav", "ol", "p", "pre",
            "section", "summary", "table", "ul",
        ),
        HTML_PARAGRAPH,
    ),
}  # fmt: skip

warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning, module=__name__)

INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class ParsedDocument:
    """One document to index; the same file parsed again gives the same ids."""

    id: str
    text: str
    metadata: Metadata


@dataclass(frozen=True)
class ParseResult:
    """The documents a file holds, and the problems with parts of it that were skipped."""

    documents: list[ParsedDocument]
    warnings: list[str] = field(default_factory=list)


class ParseError(ValueError):
    """A file that cannot be turned into documents; str(error) says why, naming the file."""


def parse_file(filename: str, data: bytes, text_column: str | None = None) -> ParseResult:
    """Turn one uploaded file into documents; its type comes from the file name's extension.

    `text_column` names the CSV column holding the text (default "text"); other types ignore it.
    Raises ParseError for a file that holds no usable document.
    """
    extension = os.path.splitext(filename)[1].lower()
    if extension not in SUPPORTED_EXTENSIONS:
        raise ParseError(
            f"{filename}: unsupported file type {extension or '(no extension)'!r}; "
            f"supported: {', '.join(SUPPORTED_EXTENSIONS)}"
        )
    if not data.strip():
        raise ParseError(f"{filename}: the file is empty")
    if extension == ".pdf":
        return _parse_pdf(filename, data)
    text = _decode(filename, data)
    if extension in (".txt", ".md", ".markdown"):
        return _parse_plain(filename, text)
    if extension in (".html", ".htm"):
        return _parse_html(filename, text)
    if extension == ".jsonl":
        return _parse_jsonl(filename, text)
    return _parse_csv(filename, text, text_column or DEFAULT_TEXT_COLUMN)


def _decode(filename: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"{filename}: not UTF-8 text (invalid byte at offset {exc.start}); "
            "save the file as UTF-8 and upload it again"
        ) from exc
    if "\x00" in text:
        raise ParseError(
            f"{filename}: not UTF-8 text (it contains NUL bytes, as binary and UTF-16 files do)"
        )
    if not text.strip():
        raise ParseError(f"{filename}: the file is empty")
    return text


def _tidy_whitespace(text: str) -> str:
    """Collapse runs of spaces within lines and of blank lines between paragraphs; trim ends."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _one_problem_list(problems: list[str]) -> str:
    shown = "; ".join(problems[:MAX_PROBLEMS_IN_ERROR])
    more = len(problems) - MAX_PROBLEMS_IN_ERROR
    return shown + (f"; and {more} more" if more > 0 else "")


def _replaced_warning(filename: str, keys: set[str]) -> str:
    names = ", ".join(repr(key) for key in sorted(keys))
    return f"{filename}: metadata {names} is set from the file's name and position, not its values"


# -- text, Markdown, HTML --------------------------------------------------------------------
def _parse_plain(filename: str, text: str) -> ParseResult:
    document = ParsedDocument(
        id=filename, text=_tidy_whitespace(text), metadata={"source": filename}
    )
    return ParseResult([document])


def _parse_html(filename: str, text: str) -> ParseResult:
    try:
        soup = BeautifulSoup(text, "html.parser")
        title_tag = soup.find("title")
        title = _tidy_whitespace(title_tag.get_text(" ")) if title_tag is not None else ""
        for tag in soup.find_all(HTML_DROPPED_TAGS):
            tag.decompose()
        body = _tidy_whitespace(_html_visible_text(soup))
    except Exception as exc:
        raise ParseError(f"{filename}: could not read the HTML ({exc})") from exc
    if not body:
        raise ParseError(f"{filename}: the HTML has no visible text")
    metadata: Metadata = {"source": filename}
    if title:
        metadata["title"] = title
    return ParseResult([ParsedDocument(id=filename, text=body, metadata=metadata)])


def _html_visible_text(soup: BeautifulSoup) -> str:
    """The page's text laid out as a browser would: blank lines between blocks, lines for rows."""
    parts: list[str] = []
    pending = 0
    stack: list[tuple[PageElement | int, bool]] = [(soup, False)]
    while stack:
        node, in_pre = stack.pop()
        if isinstance(node, int):
            pending = max(pending, node)
        elif isinstance(node, Tag):
            if node.name == "br":
                pending = HTML_LINE if pending < HTML_LINE else HTML_PARAGRAPH
                continue
            breaks = HTML_BREAKS.get(node.name, 0)
            pending = max(pending, breaks)
            stack.append((breaks, in_pre))
            inner_pre = in_pre or node.name == "pre"
            stack.extend((child, inner_pre) for child in reversed(node.contents))
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
            text = str(node) if in_pre else re.sub(r"\s+", " ", str(node))
            if not text.strip() and (pending or not parts):
                continue
            if parts:
                parts.append(HTML_SEPARATORS[pending])
            parts.append(text)
            pending = 0
    return "".join(parts)


# -- PDF -------------------------------------------------------------------------------------
def _parse_pdf(filename: str, data: bytes) -> ParseResult:
    documents: list[ParsedDocument] = []
    warnings: list[str] = []
    if PDF_HEADER not in data[:PDF_HEADER_WINDOW]:
        raise ParseError(f"{filename}: not a PDF file (no %PDF- header)")
    try:
        pages = PdfReader(io.BytesIO(data)).pages
        page_count = len(pages)
    except FileNotDecryptedError as exc:
        raise ParseError(f"{filename}: the PDF is encrypted and needs a password") from exc
    except Exception as exc:
        raise ParseError(f"{filename}: not a readable PDF ({exc})") from exc
    for number in range(1, page_count + 1):
        try:
            raw = pages[number - 1].extract_text()
        except FileNotDecryptedError as exc:
            raise ParseError(f"{filename}: the PDF is encrypted and needs a password") from exc
        except Exception as exc:
            warnings.append(f"{filename} page {number}: could not extract the text ({exc})")
            continue
        text = _tidy_whitespace(raw.replace("\x00", ""))
        if text:
            documents.append(
                ParsedDocument(
                    id=f"{filename}#page={number}",
                    text=text,
                    metadata={"source": filename, "page": number},
                )
            )
    if not documents:
        if warnings:
            raise ParseError(
                f"{filename}: no page's text could be read: {_one_problem_list(warnings)}"
            )
        raise ParseError(
            f"{filename}: the PDF has no extractable text "
            "(scanned pages are images and need OCR first)"
        )
    return ParseResult(documents, warnings)


# -- JSONL -----------------------------------------------------------------------------------
def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a valid JSON number")


def _check_metadata(value: Any) -> Metadata:
    """Return a flat metadata object, or raise ValueError saying what is wrong with it."""
    try:
        return validate_metadata(value)
    except ValueError as exc:
        raise ValueError(f'"metadata" {exc}') from exc


def _jsonl_document(filename: str, number: int, line: str, replaced: set[str]) -> ParsedDocument:
    """The document on one line, or ValueError saying what is wrong with the line.

    Reserved metadata keys the line sets itself are overwritten and added to `replaced`.
    """
    try:
        value = json.loads(line, parse_constant=_reject_constant)
    except ValueError as exc:
        raise ValueError(f"not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ValueError('must be a JSON object with a "text" string')
    unknown = [key for key in value if key not in JSONL_KEYS]
    if unknown:
        raise ValueError(
            f"unknown key {unknown[0]!r} (allowed: {', '.join(JSONL_KEYS)}; "
            'put other fields under "metadata")'
        )
    text = value.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('"text" must be a non-empty string')
    doc_id = value.get("id")
    if doc_id is None:
        doc_id = f"{filename}#line={number}"
    elif not isinstance(doc_id, str) or not doc_id.strip():
        raise ValueError('"id" must be a non-empty string')
    raw_metadata = value.get("metadata")
    metadata = _check_metadata(raw_metadata) if raw_metadata is not None else {}
    replaced.update(key for key in JSONL_RESERVED_KEYS if key in metadata)
    metadata.update({"source": filename, "line": number})
    return ParsedDocument(id=doc_id, text=text, metadata=metadata)


def _parse_jsonl(filename: str, text: str) -> ParseResult:
    documents: list[ParsedDocument] = []
    problems: list[str] = []
    first_line_of: dict[str, int] = {}
    replaced: set[str] = set()
    for number, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.strip()
        if not line:
            continue
        try:
            document = _jsonl_document(filename, number, line, replaced)
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        if document.id in first_line_of:
            problems.append(
                f"line {number}: id {document.id!r} is already used on line "
                f"{first_line_of[document.id]}"
            )
            continue
        first_line_of[document.id] = number
        documents.append(document)
    if not documents:
        raise ParseError(
            f"{filename}: no line holds a usable document: {_one_problem_list(problems)}"
        )
    warnings = [f"{filename} {problem}" for problem in problems]
    if replaced:
        warnings.append(_replaced_warning(filename, replaced))
    return ParseResult(documents, warnings)


# -- CSV -------------------------------------------------------------------------------------
def _csv_value(cell: str) -> Scalar:
    """A cell as metadata: None when empty, a number when it is one written plainly, else text."""
    if cell == "":
        return None
    if INTEGER.fullmatch(cell):
        number = int(cell)
        return number if INT64_MIN <= number <= INT64_MAX else cell
    if FLOAT.fullmatch(cell):
        real = float(cell)
        return real if math.isfinite(real) else cell
    return cell


def _parse_csv(filename: str, text: str, text_column: str) -> ParseResult:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    documents: list[ParsedDocument] = []
    problems: list[str] = []
    first_row_of: dict[str, int] = {}
    dropped_unnamed = False
    try:
        header: list[str] = []
        for record in reader:
            if record:
                header = [name.strip() for name in record]
                break
        duplicates = sorted({name for name in header if name and header.count(name) > 1})
        if duplicates:
            raise ParseError(f"{filename}: column {duplicates[0]!r} appears more than once")
        if text_column not in header:
            found = ", ".join(repr(name) for name in header if name)
            raise ParseError(
                f"{filename}: no column {text_column!r} to take the text from; "
                f"columns found: {found or 'none'}"
            )
        text_index = header.index(text_column)
        row = 0
        for record in reader:
            row += 1
            if not record:
                continue
            if len(record) > len(header):
                problems.append(
                    f"row {row}: {len(record)} fields but the header names {len(header)} "
                    "(an unquoted comma in a value?)"
                )
                continue
            cells = record + [""] * (len(header) - len(record))
            row_text = cells[text_index]
            if not row_text.strip():
                problems.append(f"row {row}: empty text in column {text_column!r}")
                continue
            metadata: Metadata = {}
            doc_id = f"{filename}#row={row}"
            for name, cell in zip(header, cells, strict=True):
                if name == text_column:
                    continue
                if name == CSV_ID_COLUMN:
                    doc_id = cell.strip() or doc_id
                elif name:
                    metadata[name] = _csv_value(cell)
                elif cell.strip():
                    dropped_unnamed = True
            metadata.update({"source": filename, "row": row})
            if doc_id in first_row_of:
                problems.append(
                    f"row {row}: id {doc_id!r} is already used on row {first_row_of[doc_id]}"
                )
                continue
            first_row_of[doc_id] = row
            documents.append(ParsedDocument(id=doc_id, text=row_text, metadata=metadata))
    except csv.Error as exc:
        raise ParseError(f"{filename}: not valid CSV near line {reader.line_num} ({exc})") from exc
    if not documents:
        if not problems:
            raise ParseError(f"{filename}: the CSV has a header but no rows")
        raise ParseError(
            f"{filename}: no row holds a usable document: {_one_problem_list(problems)}"
        )
    warnings = [f"{filename} {problem}" for problem in problems]
    replaced = {key for key in CSV_RESERVED_KEYS if key in header and key != text_column}
    if replaced:
        warnings.append(_replaced_warning(filename, replaced))
    if dropped_unnamed:
        warnings.append(f"{filename}: values in columns without a name were ignored")
    return ParseResult(documents, warnings)
