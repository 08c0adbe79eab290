"""Uploaded files become documents: each type's good path, stable ids, and each kind of bad file."""

import io
import json

import pytest
from pypdf import PdfReader, PdfWriter

from app.ingest.parsers import (
    SUPPORTED_EXTENSIONS,
    ParsedDocument,
    ParseError,
    ParseResult,
    parse_file,
)


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF, one page per string (Helvetica text; "" makes a page with no text)."""
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode() if text else b""
        page = (
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        objects.append(page.encode())
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    out = bytearray(b"%PDF-1.4\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def encrypt_pdf(data: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, "owner-secret", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def jsonl(*lines: object) -> bytes:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines).encode()


def ids(result: ParseResult) -> list[str]:
    return [d.id for d in result.documents]


# -- the interface ---------------------------------------------------------------------------
def test_supported_extensions() -> None:
    assert SUPPORTED_EXTENSIONS == (
        ".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".jsonl", ".csv",
    )  # fmt: skip


def test_unsupported_extension_names_the_file_and_the_supported_ones() -> None:
    with pytest.raises(ParseError) as caught:
        parse_file("report.docx", b"PK\x03\x04 anything")
    message = str(caught.value)
    assert "report.docx" in message and "'.docx'" in message
    for extension in SUPPORTED_EXTENSIONS:
        assert extension in message
    with pytest.raises(ParseError, match="no extension"):
        parse_file("README", b"hello")


def test_parse_error_is_a_value_error() -> None:
    assert issubclass(ParseError, ValueError)


# -- text and Markdown -----------------------------------------------------------------------
def test_text_file_is_one_document_with_tidied_whitespace() -> None:
    data = b"  First   line\twith tabs  \r\nsecond line\r\n\r\n\r\n\r\nNext  paragraph.\n\n"
    result = parse_file("notes.txt", data)
    assert result == ParseResult(
        [
            ParsedDocument(
                id="notes.txt",
                text="First line with tabs\nsecond line\n\nNext paragraph.",
                metadata={"source": "notes.txt"},
            )
        ],
        [],
    )


def test_extension_is_case_insensitive_and_a_utf8_bom_is_dropped() -> None:
    result = parse_file("NOTES.TXT", "\ufeffcafé ☕".encode())
    assert result.documents[0].text == "café ☕"
    assert ids(result) == ["NOTES.TXT"]


@pytest.mark.parametrize("filename", ["guide.md", "guide.markdown"])
def test_markdown_is_read_as_text_keeping_its_front_matter(filename: str) -> None:
    data = b"---\ntitle: Guide\n---\n\n# Install\n\nRun   `make`.\n"
    result = parse_file(filename, data)
    assert result.documents == [
        ParsedDocument(
            id=filename,
            text="---\ntitle: Guide\n---\n\n# Install\n\nRun `make`.",
            metadata={"source": filename},
        )
    ]
    assert result.warnings == []


# -- HTML ------------------------------------------------------------------------------------
PAGE = b"""<!DOCTYPE html>
<html><head><title>  The   Page </title>
<style>p { color: red; }</style><script>var secret = 1;</script></head>
<body><!-- a comment --><h1>Heading</h1>
<p>First   paragraph with <b>bold</b> text.<br>Its second line.</p>
<ul><li>one</li><li>two</li></ul>
<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>
<noscript>enable JavaScript</noscript><div>The end.</div></body></html>"""


@pytest.mark.parametrize("filename", ["page.html", "page.htm"])
def test_html_keeps_visible_text_in_paragraphs_and_the_title_in_metadata(filename: str) -> None:
    result = parse_file(filename, PAGE)
    assert result.documents == [
        ParsedDocument(
            id=filename,
            text="Heading\n\nFirst paragraph with bold text.\nIts second line.\n\n"
            "one\ntwo\n\na b\nc d\n\nThe end.",
            metadata={"source": filename, "title": "The Page"},
        )
    ]


def test_html_without_a_title_has_no_title_metadata() -> None:
    result = parse_file("bare.html", b"<p>Just text</p>")
    assert result.documents[0].metadata == {"source": "bare.html"}
    assert result.documents[0].text == "Just text"


def test_html_with_no_visible_text_is_an_error() -> None:
    with pytest.raises(ParseError, match="empty.html: .*no visible text"):
        parse_file("empty.html", b"<html><head><title>T</title><script>x()</script></head></html>")


# -- PDF -------------------------------------------------------------------------------------
def test_pdf_gives_one_document_per_page_with_text() -> None:
    result = parse_file("paper.pdf", make_pdf(["Hello first page", "", "Third page text"]))
    assert result == ParseResult(
        [
            ParsedDocument(
                id="paper.pdf#page=1",
                text="Hello first page",
                metadata={"source": "paper.pdf", "page": 1},
            ),
            ParsedDocument(
                id="paper.pdf#page=3",
                text="Third page text",
                metadata={"source": "paper.pdf", "page": 3},
            ),
        ],
        [],
    )


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.4\n1 0 obj garbage", b"this is not a PDF", make_pdf(["Some text"])[:120]],
    ids=["garbage", "not-a-pdf", "truncated"],
)
def test_corrupt_pdf_is_an_error(data: bytes) -> None:
    with pytest.raises(ParseError, match="broken.pdf: not a"):
        parse_file("broken.pdf", data)


def test_pdf_that_needs_a_password_is_an_error() -> None:
    data = encrypt_pdf(make_pdf(["Secret page", "More secrets"]), user_password="secret")
    with pytest.raises(ParseError, match="locked.pdf: .*encrypted and needs a password"):
        parse_file("locked.pdf", data)


def test_pdf_encrypted_only_against_editing_is_read() -> None:
    data = encrypt_pdf(make_pdf(["Open page", "Another page"]), user_password="")
    result = parse_file("restricted.pdf", data)
    assert [(d.id, d.text) for d in result.documents] == [
        ("restricted.pdf#page=1", "Open page"),
        ("restricted.pdf#page=2", "Another page"),
    ]


def test_pdf_without_any_text_is_an_error() -> None:
    with pytest.raises(ParseError, match="scan.pdf: the PDF has no extractable text"):
        parse_file("scan.pdf", make_pdf(["", ""]))


# -- JSONL -----------------------------------------------------------------------------------
def test_jsonl_gives_one_document_per_line() -> None:
    data = jsonl(
        {"text": "first", "id": "a", "metadata": {"lang": "en", "year": 2024, "tags": ["x", 1]}},
        "",
        {"text": "second", "metadata": {"score": 0.5, "draft": False, "note": None}},
        "   ",
    )
    result = parse_file("data.jsonl", data)
    assert result == ParseResult(
        [
            ParsedDocument(
                id="a",
                text="first",
                metadata={
                    "lang": "en",
                    "year": 2024,
                    "tags": ["x", 1],
                    "source": "data.jsonl",
                    "line": 1,
                },
            ),
            ParsedDocument(
                id="data.jsonl#line=3",
                text="second",
                metadata={
                    "score": 0.5,
                    "draft": False,
                    "note": None,
                    "source": "data.jsonl",
                    "line": 3,
                },
            ),
        ],
        [],
    )


def test_jsonl_bad_lines_become_warnings_and_good_lines_are_kept() -> None:
    data = jsonl(
        {"text": "good one"},
        "{not json",
        ["a", "list"],
        {"id": "no-text"},
        {"text": "   "},
        {"text": "nested", "metadata": {"author": {"name": "x"}}},
        {"text": "list of lists", "metadata": {"tags": [["x"]]}},
        {"text": "bad id", "id": 7},
        {"text": "extra key", "title": "T"},
        '{"text": "not a number", "metadata": {"score": NaN}}',
        {"text": "good two", "id": "data.jsonl#line=1"},
        {"text": "good three"},
    )
    result = parse_file("data.jsonl", data)
    assert [(d.id, d.text) for d in result.documents] == [
        ("data.jsonl#line=1", "good one"),
        ("data.jsonl#line=12", "good three"),
    ]
    assert [w.split(":")[0] for w in result.warnings] == [
        f"data.jsonl line {n}" for n in range(2, 12)
    ]
    assert "not valid JSON" in result.warnings[0]
    assert '"text" must be a non-empty string' in result.warnings[2]
    assert "'author'" in result.warnings[4]
    assert "unknown key 'title'" in result.warnings[7]
    assert "NaN" in result.warnings[8]
    assert "already used on line 1" in result.warnings[9]


def test_jsonl_with_every_line_bad_is_an_error() -> None:
    data = jsonl({"txt": "typo"}, {"text": ""}, "nope", {"text": 5}, {"text": None})
    with pytest.raises(ParseError) as caught:
        parse_file("all-bad.jsonl", data)
    message = str(caught.value)
    assert message.startswith("all-bad.jsonl: no line holds a usable document: line 1: ")
    assert "line 2:" in message and "and 2 more" in message


def test_jsonl_metadata_cannot_override_source_and_line() -> None:
    result = parse_file("x.jsonl", jsonl({"text": "t", "metadata": {"source": "web", "line": 9}}))
    assert result.documents[0].metadata == {"source": "x.jsonl", "line": 1}
    assert result.warnings == [
        "x.jsonl: metadata 'line', 'source' is set from the file's name and position, "
        "not its values"
    ]


# -- CSV -------------------------------------------------------------------------------------
def test_csv_gives_one_document_per_row_with_other_columns_as_metadata() -> None:
    data = (
        "\ufefftitle,text,year,score,zip,note\r\n"
        'Intro,"Hello, world",2024,4.5,02134,\r\n'
        'Part 2,"Line one\nline two",-3,1e3,12,"n/a"\r\n'
    ).encode()
    result = parse_file("table.csv", data)
    assert result == ParseResult(
        [
            ParsedDocument(
                id="table.csv#row=1",
                text="Hello, world",
                metadata={
                    "title": "Intro",
                    "year": 2024,
                    "score": 4.5,
                    "zip": "02134",
                    "note": None,
                    "source": "table.csv",
                    "row": 1,
                },
            ),
            ParsedDocument(
                id="table.csv#row=2",
                text="Line one\nline two",
                metadata={
                    "title": "Part 2",
                    "year": -3,
                    "score": 1000.0,
                    "zip": 12,
                    "note": "n/a",
                    "source": "table.csv",
                    "row": 2,
                },
            ),
        ],
        [],
    )


def test_csv_takes_ids_from_an_id_column_and_text_from_the_named_column() -> None:
    data = b"id,body,lang\ndoc-1,First body,en\n,Second body,pt\n"
    result = parse_file("t.csv", data, text_column="body")
    assert [(d.id, d.text, d.metadata) for d in result.documents] == [
        ("doc-1", "First body", {"lang": "en", "source": "t.csv", "row": 1}),
        ("t.csv#row=2", "Second body", {"lang": "pt", "source": "t.csv", "row": 2}),
    ]


def test_csv_without_the_text_column_names_it_and_lists_the_columns() -> None:
    with pytest.raises(ParseError) as caught:
        parse_file("t.csv", b"title,body\nA,B\n")
    assert str(caught.value) == (
        "t.csv: no column 'text' to take the text from; columns found: 'title', 'body'"
    )
    with pytest.raises(ParseError, match="no column 'content'"):
        parse_file("t.csv", b"text\nA\n", text_column="content")


def test_csv_rows_with_empty_text_become_warnings() -> None:
    data = b"text,n\nkept,1\n,2\n   ,3\nalso kept,4,extra\nlast,5\n"
    result = parse_file("t.csv", data)
    assert [(d.id, d.text) for d in result.documents] == [
        ("t.csv#row=1", "kept"),
        ("t.csv#row=5", "last"),
    ]
    assert result.warnings[0] == "t.csv row 2: empty text in column 'text'"
    assert result.warnings[1] == "t.csv row 3: empty text in column 'text'"
    assert result.warnings[2].startswith("t.csv row 4: 3 fields but the header names 2")


def test_csv_with_no_usable_row_is_an_error() -> None:
    with pytest.raises(ParseError, match="t.csv: no row holds a usable document: row 1: empty"):
        parse_file("t.csv", b"text,n\n,1\n")
    with pytest.raises(ParseError, match="t.csv: the CSV has a header but no rows"):
        parse_file("t.csv", b"text,n\n")


def test_csv_with_broken_quoting_is_an_error() -> None:
    with pytest.raises(ParseError, match="t.csv: not valid CSV"):
        parse_file("t.csv", b'text,n\n"unclosed quote,1\nnext,2\n')


# -- across types ----------------------------------------------------------------------------
SAMPLES: dict[str, bytes] = {
    "a.txt": b"Some text.",
    "a.md": b"# Title\n\nBody.",
    "a.html": b"<title>T</title><p>Body</p>",
    "a.pdf": make_pdf(["Page one", "Page two"]),
    "a.jsonl": jsonl({"text": "one"}, {"text": "two"}),
    "a.csv": b"text\none\ntwo\n",
}


@pytest.mark.parametrize("filename", sorted(SAMPLES))
def test_the_same_file_parses_to_the_same_ids(filename: str) -> None:
    first = parse_file(filename, SAMPLES[filename])
    second = parse_file(filename, bytes(SAMPLES[filename]))
    assert ids(first) == ids(second)
    assert first == second
    assert len(set(ids(first))) == len(first.documents) >= 1
    assert all(d.metadata["source"] == filename for d in first.documents)


@pytest.mark.parametrize("filename", ["a.txt", "a.md", "a.html", "a.jsonl", "a.csv"])
def test_text_that_is_not_utf8_is_an_error(filename: str) -> None:
    latin1 = SAMPLES[filename].replace(b"o", "ö".encode("latin-1"))
    with pytest.raises(ParseError, match=f"{filename}: not UTF-8 text"):
        parse_file(filename, latin1)
    utf16 = SAMPLES[filename].decode().encode("utf-16-le")
    with pytest.raises(ParseError, match=f"{filename}: not UTF-8 text"):
        parse_file(filename, utf16)


@pytest.mark.parametrize("filename", sorted(SAMPLES))
@pytest.mark.parametrize("data", [b"", b" \n\t\r\n "], ids=["empty", "whitespace"])
def test_an_empty_file_is_an_error(filename: str, data: bytes) -> None:
    with pytest.raises(ParseError, match=f"{filename}: the file is empty"):
        parse_file(filename, data)


@pytest.mark.parametrize("filename", sorted(SAMPLES))
def test_damaged_content_raises_only_parse_error(filename: str) -> None:
    sample = SAMPLES[filename]
    for data in (sample[: len(sample) // 2], sample[::-1], bytes(range(256)), b"\xff" * 64):
        try:
            result = parse_file(filename, data)
        except ParseError:
            continue
        assert all(d.text.strip() for d in result.documents)
