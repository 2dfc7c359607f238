"""Reading uploaded files: parsers that turn their bytes into text with its pages and
lines, and the chunker that cuts that text into inputs of the embedding model.

Pure functions over bytes and text: nothing here touches the database, the network or the
event loop, so the ingestion job can run all of it in a worker thread.
"""

from __future__ import annotations

from engram.files.chunking import Chunk as Chunk
from engram.files.chunking import chunk_document as chunk_document
from engram.files.parsing import ParsedDocument as ParsedDocument
from engram.files.parsing import ParseError as ParseError
from engram.files.parsing import Parser as Parser
from engram.files.parsing import Section as Section
from engram.files.parsing import UnsupportedFileType as UnsupportedFileType
from engram.files.parsing import parse_file as parse_file
from engram.files.parsing import parser_for as parser_for
from engram.files.parsing import supported_types as supported_types
from engram.files.tokens import max_input_tokens_for as max_input_tokens_for
from engram.files.tokens import token_spans_for as token_spans_for
