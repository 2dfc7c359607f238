"""Parsers of files that are text already: plain text, Markdown, CSV, source code, JSON
and HTML, and the one way they all decode bytes.

Text is decoded as UTF-8 (a byte-order mark says UTF-16 or UTF-32), and a file that is not
valid UTF-8 as Windows-1252, then Latin-1, the encodings of most text written by hand
before UTF-8; a guess from a charset detector would be wrong more often on short files.
Line endings become ``\\n`` so that line numbers mean the same to every reader.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass

from engram.files.document import ParsedDocument, ParseError

_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)

_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f]")
"""Control characters text never holds (tab, line breaks, form feed and escape may)."""

LONG_JSON_LINE = 1000
"""A JSON file with a line longer than this (minified) is shown indented, so that line
numbers, grep and windows of lines mean something in it."""


def decode_text(data: bytes, filename: str) -> str:
    """``data`` as text with ``\\n`` line endings; ParseError when it is empty, holds no
    text, or is binary."""
    if not data:
        raise ParseError(f"'{filename}' is empty (0 bytes): there is nothing to read")
    text = _decode(data, filename)
    sample = text[:65_536]
    if len(_CONTROL.findall(sample)) > len(sample) // 20:
        raise ParseError(
            f"'{filename}' looks like a binary file, not text (it is full of control "
            "characters): upload it in a supported format"
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ParseError(f"'{filename}' is empty: it holds only whitespace")
    return text


def _decode(data: bytes, filename: str) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError:
                raise ParseError(
                    f"'{filename}' starts with a {encoding} byte-order mark but is not "
                    f"valid {encoding}"
                ) from None
    if b"\x00" in data:
        raise ParseError(
            f"'{filename}' looks like a binary file, not text (it contains NUL bytes): "
            "upload it in a supported format"
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


@dataclass(frozen=True)
class TextParser:
    """A text format read as it is: what the file says is what an agent reads."""

    media_type: str
    extensions: tuple[str, ...]
    content_types: tuple[str, ...] = ()

    def parse(self, data: bytes, filename: str, *, max_pages: int) -> ParsedDocument:
        return ParsedDocument.single(decode_text(data, filename), self.media_type)


@dataclass(frozen=True)
class JsonParser:
    """JSON, checked; indented when minified (see LONG_JSON_LINE), else kept as written."""

    media_type: str = "application/json"
    extensions: tuple[str, ...] = (".json",)
    content_types: tuple[str, ...] = ("text/json",)

    def parse(self, data: bytes, filename: str, *, max_pages: int) -> ParsedDocument:
        text = decode_text(data, filename)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(
                f"'{filename}' is not valid JSON: {exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}"
            ) from None
        except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
            raise ParseError(f"'{filename}' is not JSON this server can read: {exc}") from None
        if any(len(line) > LONG_JSON_LINE for line in text.splitlines()):
            # Should indenting fail, the file stays as written: valid, only hard to window.
            with contextlib.suppress(ValueError, RecursionError):
                text = json.dumps(value, indent=2, ensure_ascii=False)
        return ParsedDocument.single(text, self.media_type)


@dataclass(frozen=True)
class HtmlParser:
    """HTML as Markdown: the readable text, its headings, lists, links and tables,
    without scripts, styles and markup."""

    media_type: str = "text/html"
    extensions: tuple[str, ...] = (".html", ".htm", ".xhtml")
    content_types: tuple[str, ...] = ("application/xhtml+xml",)

    def parse(self, data: bytes, filename: str, *, max_pages: int) -> ParsedDocument:
        markdown = html_to_markdown(decode_text(data, filename))
        if not markdown.strip():
            raise ParseError(f"'{filename}' is an HTML page with no readable text")
        return ParsedDocument.single(markdown, self.media_type)


_DROPPED_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "head")


def html_to_markdown(html: str) -> str:
    """The readable content of an HTML document as Markdown, with its title on top."""
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    try:
        soup = BeautifulSoup(html, "html.parser")
        title = soup.title.get_text(strip=True) if soup.title else ""
        for tag in soup(_DROPPED_TAGS):
            tag.decompose()
        markdown = MarkdownConverter(heading_style="ATX").convert_soup(soup)
    except RecursionError:  # absurdly deep nesting
        raise ParseError("the HTML is nested too deeply to read") from None
    markdown = re.sub(r"[ \t]+\n", "\n", markdown)
    markdown = re.sub(r"\n{3,}", "\n\n", markdown).strip()
    if title and title not in markdown[:200]:
        return f"# {title}\n\n{markdown}"
    return markdown
