"""DOCX: the paragraphs and tables of a Word document's body, in reading order.

Read with the standard library's zipfile and ElementTree behind defusedxml (no DTDs, no
entities, no external references) rather than python-docx: python-docx needs lxml, a
compiled ~5 MB wheel per platform, and loads the whole document tree, while the text of a
body is a short walk over ``w:p`` and ``w:tbl`` elements that can be streamed.

A DOCX is a zip archive, so it can be a zip bomb: the document part's declared size is
checked against MAX_DOCUMENT_XML_BYTES before anything is decompressed, and no more than
that is ever read from it, whatever the archive claims.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError as XmlParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from engram.files.document import ParsedDocument, ParseError

MAX_DOCUMENT_XML_BYTES = 64 * 2**20
"""The most a document's body (``word/document.xml``) may unpack to. A 1,000-page report
is about 10 MB of XML; more is a zip bomb or not a document worth reading whole."""

_MAIN_DOCUMENT = "word/document.xml"
_HEADING = re.compile(r"^(?:heading|titre|überschrift)\s*(\d)$", re.IGNORECASE)


@dataclass(frozen=True)
class DocxParser:
    media_type: str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    extensions: tuple[str, ...] = (".docx",)
    content_types: tuple[str, ...] = ()

    def parse(self, data: bytes, filename: str, *, max_pages: int) -> ParsedDocument:
        if not data:
            raise ParseError(f"'{filename}' is empty (0 bytes): there is nothing to read")
        try:
            text = _body_text(data, filename)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as exc:
            raise ParseError(f"'{filename}' is not a readable DOCX (damaged?): {exc}") from None
        except (NotImplementedError, RuntimeError) as exc:  # odd compression, encryption
            raise ParseError(f"'{filename}' cannot be read: {exc}") from None
        if not text.strip():
            raise ParseError(f"'{filename}' is a DOCX with no text in its body")
        return ParsedDocument.single(text, self.media_type)


def _body_text(data: bytes, filename: str) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ParseError(
            f"'{filename}' is not a DOCX file (not a zip archive; a password-protected "
            "document is not one either): save it as .docx and upload it again"
        ) from None
    with archive:
        try:
            info = archive.getinfo(_MAIN_DOCUMENT)
        except KeyError:
            raise ParseError(
                f"'{filename}' is a zip archive without {_MAIN_DOCUMENT}: not a Word document"
            ) from None
        if info.file_size > MAX_DOCUMENT_XML_BYTES:
            raise ParseError(
                f"'{filename}' would unpack to {info.file_size / 2**20:,.0f} MiB of document "
                f"text, over the limit of {MAX_DOCUMENT_XML_BYTES // 2**20} MiB (a zip bomb?)"
            )
        with archive.open(info) as member:
            lines = list(_paragraphs(_Capped(member, MAX_DOCUMENT_XML_BYTES, filename), filename))
    return _collapse_blank_lines(lines)


class _Capped(io.RawIOBase):
    """A reader that refuses to yield more than ``limit`` bytes, whatever the archive says."""

    def __init__(self, inner: IO[bytes], limit: int, filename: str) -> None:
        self.inner = inner
        self.left = limit
        self.filename = filename

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.inner.read(min(len(buffer), self.left + 1))
        if len(chunk) > self.left:
            raise ParseError(
                f"'{self.filename}' unpacks to more than its declared size, over the limit "
                f"of {MAX_DOCUMENT_XML_BYTES // 2**20} MiB (a zip bomb?)"
            )
        self.left -= len(chunk)
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Body:
    """Lines of the body as the XML streams by: a paragraph is a line, a table row is a
    line of its cells joined by " | " (a cell's paragraphs joined by spaces)."""

    def __init__(self) -> None:
        self.containers: list[list[str]] = [[]]  # the body, then each open cell
        self.rows: list[list[str]] = []
        self.paragraphs: list[list[str]] = []
        self.prefixes: list[str] = []

    def start(self, name: str) -> None:
        if name == "p":
            self.paragraphs.append([])
            self.prefixes.append("")
        elif name == "tr":
            self.rows.append([])
        elif name == "tc":
            self.containers.append([])

    def end(self, name: str, element: Element) -> None:
        if name == "t" and self.paragraphs:
            self.paragraphs[-1].append(element.text or "")
        elif name == "tab" and self.paragraphs:
            self.paragraphs[-1].append("\t")
        elif name in ("br", "cr") and self.paragraphs:
            self.paragraphs[-1].append(" ")
        elif name == "pStyle" and self.prefixes:
            self.prefixes[-1] = _heading_prefix(element)
        elif name == "p" and self.paragraphs:
            words = "".join(self.paragraphs.pop()).strip()
            prefix = self.prefixes.pop()
            self.containers[-1].append(prefix + words if words else "")
            element.clear()
        elif name == "tc" and len(self.containers) > 1:
            cell = " ".join(line for line in self.containers.pop() if line)
            if self.rows:
                self.rows[-1].append(cell)
        elif name == "tr" and self.rows:
            self.containers[-1].append(" | ".join(self.rows.pop()))
            element.clear()


def _heading_prefix(element: Element) -> str:
    style = next((v for k, v in element.attrib.items() if _local(k) == "val"), "")
    if style.lower() == "title":
        return "# "
    match = _HEADING.match(style)
    return "#" * min(6, int(match.group(1))) + " " if match else ""


def _paragraphs(source: io.RawIOBase, filename: str) -> Iterator[str]:
    body = _Body()
    try:
        for event, element in iterparse(
            io.BufferedReader(source), events=("start", "end"), forbid_dtd=True
        ):
            name = _local(element.tag)
            if event == "start":
                body.start(name)
            else:
                body.end(name, element)
    except (XmlParseError, DefusedXmlException) as exc:
        raise ParseError(f"'{filename}' has a damaged document body: {exc}") from None
    yield from body.containers[0]


def _collapse_blank_lines(lines: list[str]) -> str:
    text = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text)
