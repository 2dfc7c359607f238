"""Parsing uploaded files: each supported format gives its text, pages and lines, and bad
bytes (empty, binary, corrupt, a zip bomb, too many pages) give a ParseError that says
what is wrong, never another exception. PDFs and DOCX files are written here, with fpdf2
and python-docx, so each test knows exactly what the file holds."""

from __future__ import annotations

import io
import random
import resource
import zipfile

import docx
import pytest
from fpdf import FPDF

from engram.files import parsing
from engram.files.docx import MAX_DOCUMENT_XML_BYTES
from engram.files.parsing import ParseError, UnsupportedFileType, parse_file, parser_for

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def make_pdf(pages: list[list[str]]) -> bytes:
    """A PDF whose page i holds the lines pages[i] (an empty list: a page with a drawing
    and no text)."""
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for lines in pages:
        pdf.add_page()
        if not lines:
            pdf.rect(20, 20, 100, 60, style="F")
        for line in lines:
            pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Pump manual", level=1)
    document.add_paragraph("Prime the pump before opening the valve.")
    document.add_paragraph("")
    document.add_paragraph("Check the seals every month.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "part"
    table.cell(0, 1).text = "interval"
    table.cell(1, 0).text = "seal"
    table.cell(1, 1).text = "monthly"
    document.add_paragraph("The gauge reads zero at rest.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_with(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


# --------------------------------------------------------------------------- choosing


def test_the_extension_decides_before_the_content_type() -> None:
    assert parser_for("notes.md", "application/octet-stream").media_type == "text/markdown"
    assert parser_for("REPORT.PDF", "text/plain").media_type == "application/pdf"
    assert parser_for("dir/../main.rs", None).media_type == "text/x-rust"


def test_the_content_type_decides_when_the_extension_does_not() -> None:
    assert parser_for("upload", "application/pdf; charset=binary").media_type == "application/pdf"
    assert parser_for("README", "text/x-unknown").media_type == "text/plain"


def test_an_unsupported_type_lists_what_is_supported() -> None:
    with pytest.raises(UnsupportedFileType) as caught:
        parser_for("photo.png", "image/png")
    supported = caught.value.supported
    assert "application/pdf (.pdf)" in supported
    assert any(entry.startswith("text/x-python (.py") for entry in supported)
    assert "photo.png" in str(caught.value) and "application/pdf (.pdf)" in str(caught.value)
    assert supported == parsing.supported_types()


# --------------------------------------------------------------------------- text formats


def test_plain_text_keeps_its_lines_with_unix_line_endings() -> None:
    doc = parse_file(b"first line\r\nsecond line\rthird\n", "a.txt")
    assert doc.text == "first line\nsecond line\nthird\n"
    assert doc.media_type == "text/plain" and doc.pages is None
    assert [(s.page, s.first_line) for s in doc.sections] == [(None, 1)]


def test_text_that_is_not_utf8_is_read_as_windows_1252() -> None:
    doc = parse_file("café – naïve".encode("cp1252"), "old.txt")
    assert doc.text == "café – naïve"


def test_utf16_with_a_byte_order_mark_is_read() -> None:
    doc = parse_file("hello wörld".encode("utf-16"), "wide.txt")
    assert doc.text == "hello wörld"


def test_markdown_csv_and_code_are_read_as_written() -> None:
    markdown = "# Title\n\n- item *one*\n"
    assert parse_file(markdown.encode(), "doc.md").text == markdown
    csv = "name,age\nada,36\n"
    assert parse_file(csv.encode(), "people.csv").media_type == "text/csv"
    code = "def f(x):\n    return x\n"
    doc = parse_file(code.encode(), "f.py")
    assert (doc.text, doc.media_type) == (code, "text/x-python")
    for name in ("a.js", "a.ts", "A.java", "a.go", "a.c", "a.cpp", "a.h", "a.rb", "a.sh"):
        assert parse_file(b"x = 1\n", name).text == "x = 1\n"
    for name in ("a.sql", "a.yaml", "a.yml", "a.toml"):
        assert parse_file(b"x = 1\n", name).text == "x = 1\n"


def test_html_becomes_markdown_without_scripts_or_styles() -> None:
    html = (
        b"<html><head><title>Pumps</title><style>p{color:red}</style></head><body>"
        b"<h2>Priming</h2><p>Open the <b>valve</b> slowly.</p><script>alert(1)</script>"
        b"<ul><li>one</li><li>two</li></ul></body></html>"
    )
    doc = parse_file(html, "page.html")
    assert doc.media_type == "text/html"
    assert doc.text.startswith("# Pumps")
    assert "## Priming" in doc.text and "Open the **valve** slowly." in doc.text
    assert "alert" not in doc.text and "color" not in doc.text


def test_json_is_checked_and_minified_json_is_indented() -> None:
    pretty = b'{\n  "a": 1\n}\n'
    assert parse_file(pretty, "x.json").text == pretty.decode()
    minified = ('{"items": [' + ",".join(f'"item number {i}"' for i in range(200)) + "]}").encode()
    doc = parse_file(minified, "big.json")
    assert doc.text.count("\n") > 200 and '"item number 199"' in doc.text
    with pytest.raises(ParseError, match="not valid JSON: .* line 2"):
        parse_file(b'{"a": 1,\n oops}', "bad.json")


@pytest.mark.parametrize("name", ["empty.txt", "empty.pdf", "empty.docx", "empty.json"])
def test_an_empty_file_says_it_is_empty(name: str) -> None:
    with pytest.raises(ParseError, match="is empty"):
        parse_file(b"", name)


def test_a_file_of_whitespace_has_nothing_to_read() -> None:
    with pytest.raises(ParseError, match="only whitespace"):
        parse_file(b" \n\t\r\n  ", "blank.md")


def test_binary_bytes_in_a_text_file_are_refused() -> None:
    with pytest.raises(ParseError, match="binary file"):
        parse_file(b"hello\x00\x00\x01world", "notes.txt")
    junk = bytes(random.Random(1).randrange(1, 32) for _ in range(4000))
    with pytest.raises(ParseError, match="binary file"):
        parse_file(junk, "code.py")


# --------------------------------------------------------------------------- PDF


def test_a_pdf_gives_one_section_per_page_with_its_first_line() -> None:
    data = make_pdf([["Page one opens here.", "Second line."], ["The valve is blue."], []])
    doc = parse_file(data, "manual.pdf", "application/pdf")
    assert doc.media_type == "application/pdf" and doc.pages == 3
    assert [s.page for s in doc.sections] == [1, 2, 3]
    first, second, third = doc.sections
    assert "Page one opens here." in first.text and "Second line." in first.text
    assert second.text == "The valve is blue."
    assert third.text == ""
    lines = doc.text.split("\n")
    assert lines[second.first_line - 1] == "The valve is blue."
    assert lines[first.first_line - 1] == "Page one opens here."
    assert doc.text == "\n".join(s.text for s in doc.sections)


def test_a_pdf_without_a_text_layer_says_so() -> None:
    with pytest.raises(ParseError, match=r"no text layer \(scanned pages\?\)"):
        parse_file(make_pdf([[], []]), "scan.pdf")


def test_a_pdf_over_the_page_limit_is_refused() -> None:
    data = make_pdf([[f"page {n}"] for n in range(12)])
    with pytest.raises(ParseError, match="12 pages, over the limit of 10"):
        parse_file(data, "long.pdf", max_pages=10)
    assert parse_file(data, "long.pdf", max_pages=12).pages == 12


def test_a_corrupt_pdf_is_a_parse_error() -> None:
    data = make_pdf([["some text"]])
    for broken in (b"%PDF-1.7\nnot really", data[: len(data) // 3], b"\x89PNG\r\n" * 50):
        with pytest.raises(ParseError, match="not a readable PDF"):
            parse_file(broken, "broken.pdf")


# --------------------------------------------------------------------------- DOCX


def test_a_docx_gives_its_paragraphs_headings_and_tables_in_order() -> None:
    doc = parse_file(make_docx(), "manual.docx")
    assert doc.media_type == DOCX_TYPE and doc.pages is None
    assert doc.text.split("\n") == [
        "# Pump manual",
        "Prime the pump before opening the valve.",
        "",
        "Check the seals every month.",
        "part | interval",
        "seal | monthly",
        "The gauge reads zero at rest.",
    ]


def test_a_corrupt_docx_is_a_parse_error() -> None:
    good = make_docx()
    with pytest.raises(ParseError, match="not a DOCX file"):
        parse_file(b"PK\x03\x04 this is not a zip", "a.docx")
    with pytest.raises(ParseError, match="without word/document.xml"):
        parse_file(zip_with({"hello.txt": b"hi"}), "b.docx")
    with pytest.raises(ParseError, match="damaged document body"):
        parse_file(zip_with({"word/document.xml": b"<w:document><w:body>"}), "c.docx")
    with pytest.raises(ParseError):
        parse_file(good[: len(good) // 2], "d.docx")


def test_a_docx_with_entities_in_its_xml_is_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b"<document><body><p><t>&lol2;</t></p></body></document>"
    )
    with pytest.raises(ParseError, match="damaged document body"):
        parse_file(zip_with({"word/document.xml": laughs}), "lol.docx")


def test_a_docx_zip_bomb_is_refused_without_unpacking_it() -> None:
    out = io.BytesIO()
    block = b"<w:p/>" * (2**20 // 6)
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/document.xml", "w", force_zip64=True) as member,
    ):
        for _ in range(MAX_DOCUMENT_XML_BYTES // len(block) + 20):
            member.write(block)
    data = out.getvalue()
    assert len(data) < MAX_DOCUMENT_XML_BYTES // 50
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ParseError, match="zip bomb"):
        parse_file(data, "bomb.docx")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 32 * 1024


# --------------------------------------------------------------------------- any bytes


@pytest.mark.parametrize("name", ["x.pdf", "x.docx", "x.html", "x.json", "x.txt", "x.csv"])
def test_random_bytes_give_a_parse_error_or_text_never_a_crash(name: str) -> None:
    rng = random.Random(name)
    samples = [bytes(rng.randrange(256) for _ in range(size)) for size in (1, 7, 300, 5000)]
    samples += [b"%PDF-1.4\n" + s for s in samples] + [b"PK\x03\x04" + s for s in samples]
    for data in samples:
        try:
            doc = parse_file(data, name)
        except ParseError as exc:
            assert str(exc)
        else:
            assert doc.text.strip()
