"""Per-model token counting that works without network access.

Why this module exists: the agent runtime has to decide when a context window is
full *before* it sends a request, so it needs token counts that are close to what
the provider will bill. For OpenAI models we can be exact: tiktoken implements the
real BPE, but its stock loader downloads the rank files from a blob store at first
use, which is unreachable here (and undesirable on any server that must start
offline). So the two rank files we need (``o200k_base`` and ``cl100k_base``) ship
inside the package, gzip-compressed, under ``engram/llm/encodings/``; they are the
byte-for-byte files OpenAI publishes, and we check them against the SHA-256 that
tiktoken itself pins before building a ``tiktoken.Encoding`` from them directly.
Nothing here ever calls tiktoken's downloader or touches its cache directory.

For every other model (Anthropic, local models, anything unknown) there is no
tokenizer we could ship for all of them, so we use a cheap estimate: a small
linear model over the pieces of an o200k-like pre-tokenization (word pieces,
long-word excess, digit groups, punctuation and whitespace runs, per-script
character counts). Calibrated against o200k on an English/code/JSON corpus (1,562
documents, 4.5 MB), its per-document error on held-out data is 3.6 % on average
and under 9.7 % for 95 % of documents, and its aggregate is within 2 %; the plain
``bytes / 3.7`` rule scored 14.5 % / 33.6 % on the same corpus. On translated UI
text in twenty languages the mean error is about 10 % (Vietnamese is over-counted
by ~40 %, Polish under-counted by ~23 %). Other vendors' tokenizers can differ
noticeably from o200k, so callers filling a window with an estimate should keep a
safety margin.
"""

from __future__ import annotations

import binascii
import functools
import gzip
import hashlib
import json
import logging
import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # tiktoken is imported lazily so that importing this module stays cheap.
    import tiktoken

__all__ = [
    "EstimatingCounter",
    "TiktokenCounter",
    "TokenCounter",
    "count_chat_tokens",
    "counts_exactly",
    "counter_for_model",
    "encoding_name_for_model",
    "load_encoding",
    "warm_up",
]

logger = logging.getLogger(__name__)


@runtime_checkable
class TokenCounter(Protocol):
    """Anything that can say how many tokens a piece of text costs."""

    def count(self, text: str) -> int:
        """The number of tokens ``text`` encodes to (special-token text counts as plain text)."""
        ...


# --------------------------------------------------------------------------- encodings


@dataclass(frozen=True)
class _EncodingSpec:
    """Everything needed to build one tiktoken encoding from a file we ship.

    ``pat_str`` and ``special_tokens`` must equal tiktoken_ext.openai_public's
    definitions; a unit test checks that, so a tiktoken upgrade that changes them is
    caught instead of silently skewing counts.
    """

    name: str
    filename: str
    sha256: str
    pat_str: str
    special_tokens: Mapping[str, int] = field(default_factory=dict)


_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"

_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_LETTERS_UPPER = r"""[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]"""
_O200K_LETTERS_LOWER = r"""[\p{Ll}\p{Lm}\p{Lo}\p{M}]"""
_O200K_CONTRACTION = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?"""
_O200K_PAT = "|".join(
    [
        rf"""[^\r\n\p{{L}}\p{{N}}]?{_O200K_LETTERS_UPPER}*{_O200K_LETTERS_LOWER}+{_O200K_CONTRACTION}""",
        rf"""[^\r\n\p{{L}}\p{{N}}]?{_O200K_LETTERS_UPPER}+{_O200K_LETTERS_LOWER}*{_O200K_CONTRACTION}""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

_SPECS: dict[str, _EncodingSpec] = {
    "o200k_base": _EncodingSpec(
        name="o200k_base",
        filename="o200k_base.tiktoken.gz",
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str=_O200K_PAT,
        special_tokens={_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
    ),
    "cl100k_base": _EncodingSpec(
        name="cl100k_base",
        filename="cl100k_base.tiktoken.gz",
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=_CL100K_PAT,
        special_tokens={
            _ENDOFTEXT: 100257,
            _FIM_PREFIX: 100258,
            _FIM_MIDDLE: 100259,
            _FIM_SUFFIX: 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
}

# One lock per encoding: a concurrent first use should build the (~100-300 ms)
# encoding once, not once per thread.
_LOAD_LOCKS: dict[str, threading.Lock] = {name: threading.Lock() for name in _SPECS}
_LOADED: dict[str, tiktoken.Encoding] = {}


def _read_ranks(spec: _EncodingSpec) -> dict[bytes, int]:
    """Parse a shipped ``.tiktoken.gz`` file into tiktoken's ``mergeable_ranks``.

    The file is the standard tiktoken format (``base64(token) rank`` per line); the
    hash check guards against a truncated or mangled copy, which would otherwise
    give plausible-looking but wrong counts.
    """
    blob = resources.files("engram.llm").joinpath("encodings", spec.filename).read_bytes()
    raw = gzip.decompress(blob)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise ValueError(f"{spec.filename} is corrupt: sha256 {digest}, expected {spec.sha256}")
    fields = raw.split()
    tokens, ranks = fields[0::2], fields[1::2]
    if len(tokens) != len(ranks):
        raise ValueError(f"{spec.filename} is malformed: odd number of fields")
    return dict(zip(map(binascii.a2b_base64, tokens), map(int, ranks), strict=True))


def load_encoding(name: str) -> tiktoken.Encoding:
    """Build (once) and return the named tiktoken encoding from the shipped files.

    Raises ``KeyError`` for an encoding we do not ship and ``ValueError``/``OSError``
    if the data file is missing or corrupt; never goes to the network.
    """
    enc = _LOADED.get(name)
    if enc is not None:
        return enc
    spec = _SPECS[name]
    with _LOAD_LOCKS[name]:
        enc = _LOADED.get(name)
        if enc is None:
            import tiktoken

            enc = tiktoken.Encoding(
                name=spec.name,
                pat_str=spec.pat_str,
                mergeable_ranks=_read_ranks(spec),
                special_tokens=dict(spec.special_tokens),
            )
            _LOADED[name] = enc
    return enc


class TiktokenCounter:
    """Exact counts with a shipped tiktoken encoding, loaded on first use.

    Loading lazily keeps server start-up and imports fast; a model family that is
    never used never pays for its encoding. If the data file cannot be loaded (a
    broken install) we log once and fall back to the estimate rather than failing
    every request that needs a count.
    """

    def __init__(self, encoding_name: str) -> None:
        if encoding_name not in _SPECS:
            raise KeyError(f"no shipped encoding named {encoding_name!r}")
        self.encoding_name = encoding_name
        self._failed = False  # set once loading has failed; we estimate from then on

    @property
    def exact(self) -> bool:
        """False once loading failed and counts have become estimates."""
        return not self._failed

    def load(self) -> None:
        """Load the encoding now (e.g. at start-up) instead of on the first count."""
        self._encoding()

    def _encoding(self) -> tiktoken.Encoding | None:
        """The encoding, or None if it could not be loaded (then we estimate)."""
        if self._failed:
            return None
        try:
            return load_encoding(self.encoding_name)
        except Exception:
            logger.exception(
                "could not load tiktoken encoding %s; estimating token counts instead",
                self.encoding_name,
            )
            self._failed = True
            return None

    def count(self, text: str) -> int:
        """Exact token count; special-token strings in user text are counted as text."""
        if not text:
            return 0
        enc = self._encoding()
        if enc is not None:
            return len(enc.encode_ordinary(text))
        return EstimatingCounter().count(text)

    def __repr__(self) -> str:
        return f"TiktokenCounter({self.encoding_name!r})"


# --------------------------------------------------------------------------- estimate

_LAT_LOWER = "a-z\u00df-\u00f6\u00f8-\u00ff\u0100-\u024f"
_LAT_UPPER = "A-Z\u00c0-\u00d6\u00d8-\u00de"
# An approximation of o200k's pre-tokenizer written for the stdlib ``re`` (which
# lacks \p{..}): each piece is roughly one BPE "word", and BPE then splits long or
# rare pieces further, which the excess-length features account for. Runs are
# capped (24 letters, 16 spaces) so a pathological blob such as 100 KB of one letter
# is not priced as a single token. The group number is the piece kind used below
# (group 2 is only the back-reference inside group 1).
_PIECE = re.compile(
    r"""
     (([^\w\s])\2{3,})                                         # 1 4+ identical symbols
    |((?:[^\r\n\w]|_)?[UPPER]?[LOWER]{1,24}(?:'[a-z]{1,2})?)  # 3 word with lower case
    |((?:[^\r\n\w]|_)?[UPPER]{1,24}(?![LOWER]))               # 4 all-caps run
    |((?:[^\r\n\w]|_)?[^\W\d_a-zA-Z\u00c0-\u024f]+)            # 5 other scripts
    |(\d{1,3})                                                 # 6 digit group
    |(\ ?[^\s\w]+[\r\n/]*|_+)                                  # 7 punctuation run
    |(\s{0,15}[\r\n])                                          # 8 line break(s)
    |(\s{1,16}(?!\S)|\s{1,16})                                  # 9 other whitespace
    """.replace("UPPER", _LAT_UPPER).replace("LOWER", _LAT_LOWER),
    re.VERBOSE,
)
_WORD_FREE_LEN = 6  # word pieces up to this length (with their leading space) are ~1 token
_CAPS_FREE_LEN = 2

# Per-character classes for text outside ASCII, counted over the whole text. They
# are compiled on first use (the big Unicode classes take ~10 ms) because ASCII
# text, the common case, never needs them.
_PER_CHAR_CLASSES: tuple[str, ...] = (
    "[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]",  # accented Latin
    "[\u0370-\u052f]",  # Greek, Cyrillic
    "[\u0590-\u06ff]",  # Hebrew, Arabic
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]",  # CJK, kana
    "[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]",  # Hangul
    # letters of any other script
    "[^\\W\\d_\u0000-\u024f\u0370-\u052f\u0590-\u06ff\u1100-\u11ff\u3040-\u30ff"
    "\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]",
    "[^\\w\\s\u0000-\u007f]",  # non-ASCII symbols and emoji
)


@functools.cache
def _per_char_patterns() -> tuple[re.Pattern[str], ...]:
    """The compiled _PER_CHAR_CLASSES, built on the first non-ASCII text."""
    return tuple(re.compile(c) for c in _PER_CHAR_CLASSES)


# Tokens per unit of each feature, in the order _features returns them. Fitted by
# non-negative least squares on relative error against o200k_base: the piece
# features on 1,562 English/code/JSON documents (4.5 MB); then the per-script ones
# on translated UI strings in 20 languages with the piece weights held fixed. The
# two repeat weights are set, not fitted (too rare in the corpus to pin down): 4+
# identical symbols ("-----", "####") are about one token per 32 characters.
_WEIGHTS: tuple[float, ...] = (
    1.046,  # word pieces
    0.069,  # word characters beyond _WORD_FREE_LEN
    1.208,  # all-caps pieces
    0.033,  # all-caps characters beyond _CAPS_FREE_LEN
    1.314,  # digit groups
    1.020,  # punctuation runs
    0.082,  # punctuation characters beyond the first
    0.980,  # line-break pieces
    0.637,  # other whitespace pieces
    1.0,  # runs of 4+ identical symbols
    1 / 32,  # characters in those runs
    # per character, one per _PER_CHAR_CLASSES entry:
    0.864,  # accented Latin
    0.334,  # Greek, Cyrillic
    0.378,  # Hebrew, Arabic
    0.807,  # CJK, kana
    0.744,  # Hangul
    0.255,  # other scripts
    0.390,  # non-ASCII symbols
)


def _features(text: str) -> list[int]:
    """The estimate's input features for ``text``, in _WEIGHTS order.

    Kept separate from the weights so the calibration can be re-fitted against the
    same features the counter uses.
    """
    words = word_excess = caps = caps_excess = digits = 0
    punct = punct_excess = newlines = spaces = repeats = repeat_chars = 0
    for m in _PIECE.finditer(text):
        kind = m.lastindex
        length = m.end() - m.start()
        if kind == 3:
            words += 1
            if length > _WORD_FREE_LEN:
                word_excess += length - _WORD_FREE_LEN
        elif kind == 4:
            caps += 1
            if length > _CAPS_FREE_LEN:
                caps_excess += length - _CAPS_FREE_LEN
        elif kind == 6:
            digits += 1
        elif kind == 7:
            punct += 1
            punct_excess += length - 1
        elif kind == 8:
            newlines += 1
        elif kind == 9:
            spaces += 1
        elif kind == 1:
            repeats += 1
            repeat_chars += length
        # kind 5 (letters of other scripts) is priced per character below.
    features = [words, word_excess, caps, caps_excess, digits]
    features += [punct, punct_excess, newlines, spaces, repeats, repeat_chars]
    if text.isascii():
        features += [0] * len(_PER_CHAR_CLASSES)
    else:
        features += [len(pattern.findall(text)) for pattern in _per_char_patterns()]
    return features


def _estimate(text: str) -> float:
    """The fitted linear estimate of o200k tokens for ``text`` (not rounded)."""
    return sum(w * f for w, f in zip(_WEIGHTS, _features(text), strict=True))


class EstimatingCounter:
    """A tokenizer-free estimate, calibrated against o200k (see the module docstring).

    Used for models whose tokenizer we cannot ship. It needs no data files, so it
    is always available and costs nothing to create.
    """

    def count(self, text: str) -> int:
        """Estimated token count: rounded to nearest, but at least 1 for non-empty text.

        Rounding to nearest rather than up keeps sums of many small fields (roles,
        names, tool-call ids in a chat request) unbiased.
        """
        if not text:
            return 0
        return max(1, math.floor(_estimate(text) + 0.5))

    def __repr__(self) -> str:
        return "EstimatingCounter()"


# --------------------------------------------------------------------------- models

_O200K_MODEL = re.compile(r"^(?:gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o[134](?:$|-))")
_CL100K_MODEL = re.compile(r"^(?:gpt-4|gpt-3\.5|gpt-35|text-embedding-|davinci-002|babbage-002)")


def _base_model_name(model: str) -> str:
    """Strip routing decorations: ``openai/gpt-4o`` and ``ft:gpt-4o-mini:org::id``."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    if name.startswith("ft:"):
        name = name[3:].split(":", 1)[0]
    return name


def encoding_name_for_model(model: str) -> str | None:
    """The shipped encoding for ``model``, or ``None`` if it is to be estimated."""
    name = _base_model_name(model)
    if _O200K_MODEL.match(name):
        return "o200k_base"
    if _CL100K_MODEL.match(name):  # checked second: "gpt-4o" also starts with "gpt-4"
        return "cl100k_base"
    return None


@functools.cache
def _counter_for_encoding(encoding_name: str | None) -> TokenCounter:
    """One counter per encoding, so all models sharing it share one loaded encoding."""
    return EstimatingCounter() if encoding_name is None else TiktokenCounter(encoding_name)


@functools.lru_cache(maxsize=1024)
def counter_for_model(model: str) -> TokenCounter:
    """The token counter to use for ``model``; cheap, cached, and shared per encoding.

    The encoding itself is loaded on the counter's first ``count`` (or ``warm_up``).
    """
    return _counter_for_encoding(encoding_name_for_model(model))


def counts_exactly(model: str) -> bool:
    """Whether ``model``'s counts come from its real tokenizer rather than the estimate."""
    counter = counter_for_model(model)
    return isinstance(counter, TiktokenCounter) and counter.exact


def warm_up(models: Iterable[str]) -> None:
    """Load the encodings these models need now, so no request pays the load time."""
    for model in models:
        counter = counter_for_model(model)
        if isinstance(counter, TiktokenCounter):
            counter.load()


# --------------------------------------------------------------------------- chat requests

# OpenAI's documented accounting for chat models: every message is wrapped in
# ``<|start|>{role}\n{content}<|end|>\n`` (3 tokens besides role and content), a
# ``name`` costs one token on top of its text, and every reply is primed with
# ``<|start|>assistant<|message|>`` (3 tokens).
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_NAME = 1
_REPLY_PRIMING = 3
# Tool calls and tool schemas are rendered by the provider in a format it does not
# document; these small constants cover the wrapping around each call/schema. The
# schema JSON itself over-counts slightly versus the provider's compact rendering,
# which errs on the side of not overfilling the window.
_TOKENS_PER_TOOL_CALL = 3
_TOKENS_PER_TOOL = 8
_TOKENS_PER_PARAMETER = 3
_TOOLS_OVERHEAD = 12
# Images cannot be sized without fetching them; assume OpenAI's cost of a 1024x1024
# high-detail image (85 + 4 * 170) unless detail is "low".
_IMAGE_TOKENS = 765
_IMAGE_TOKENS_LOW = 85


def _as_text(value: Any) -> str:
    """Strings as-is; structured values (e.g. arguments given as a dict) as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _content_tokens(counter: TokenCounter, content: Any) -> int:
    """Tokens of a message's ``content``: a string, or a list of typed parts."""
    if content is None:
        return 0
    if isinstance(content, str):
        return counter.count(content)
    total = 0
    for part in content:
        if isinstance(part, str):
            total += counter.count(part)
            continue
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if isinstance(part.get("text"), str):  # "text", "input_text", "output_text", ...
            total += counter.count(part["text"])
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            total += counter.count(part["refusal"])
        elif kind in ("image_url", "input_image", "image"):
            image = part.get("image_url")
            detail = image.get("detail") if isinstance(image, Mapping) else part.get("detail")
            total += _IMAGE_TOKENS_LOW if detail == "low" else _IMAGE_TOKENS
        # Other part types (audio, files) have no text we can price; they count 0.
    return total


def count_content_tokens(counter: TokenCounter, content: Any) -> int:
    """Tokens of one message's chat ``content`` (a string or parts, images priced as the
    context inspector prices them), without the message's own wrapper."""
    return _content_tokens(counter, content)


def _function_call_tokens(counter: TokenCounter, function: Any) -> int:
    """A call the model made: its function name and arguments plus the call wrapper."""
    if not isinstance(function, Mapping):
        return 0
    return (
        counter.count(_as_text(function.get("name")))
        + counter.count(_as_text(function.get("arguments")))
        + _TOKENS_PER_TOOL_CALL
    )


def _message_tokens(counter: TokenCounter, message: Mapping[str, Any]) -> int:
    """One message: the fields the model sees, plus the per-message wrapper."""
    total = _TOKENS_PER_MESSAGE
    for key, value in message.items():
        if key == "content":
            total += _content_tokens(counter, value)
        elif key == "role" or key == "tool_call_id" or key == "refusal":
            total += counter.count(_as_text(value))
        elif key == "name":
            total += counter.count(_as_text(value)) + _TOKENS_PER_NAME
        elif key == "tool_calls":
            for call in value or ():
                if isinstance(call, Mapping):
                    total += _function_call_tokens(counter, call.get("function"))
        elif key == "function_call":  # the legacy single-call form
            total += _function_call_tokens(counter, value)
        # Other keys (ids, metadata) are not shown to the model.
    return total


def _tool_tokens(counter: TokenCounter, tool: Mapping[str, Any]) -> int:
    """One tool: ``{"type": "function", "function": {...}}`` or a bare legacy function.

    Providers do not show the model the JSON schema as sent: they render each function
    compactly (name, description, and per parameter its name, description and type), so
    counting the JSON would over-count by half. This counts those parts and a small
    wrapper per function and per parameter."""
    schema = tool.get("function", tool) if tool.get("type", "function") == "function" else tool
    total = _TOKENS_PER_TOOL + counter.count(_as_text(schema.get("name")))
    total += counter.count(_as_text(schema.get("description")))
    parameters = schema.get("parameters")
    properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
    for name, spec in (properties or {}).items():
        total += _TOKENS_PER_PARAMETER + counter.count(name)
        if isinstance(spec, Mapping):
            total += counter.count(_as_text(spec.get("description")))
            total += counter.count(_type_text(spec))
    return total


def _type_text(spec: Mapping[str, Any]) -> str:
    """The words a parameter's type is shown with: its enum values, or its type names."""
    if spec.get("enum"):
        return " | ".join(f'"{value}"' for value in spec["enum"])
    items = spec.get("items")
    inner = _type_text(items) if isinstance(items, Mapping) else ""
    return f"{_as_text(spec.get('type'))} {inner}".strip()


def count_tool_tokens(model: str, tools: list[dict[str, Any]]) -> int:
    """Tokens the tool definitions add to a prompt."""
    if not tools:
        return 0
    counter = counter_for_model(model)
    return _TOOLS_OVERHEAD + sum(_tool_tokens(counter, tool) for tool in tools)


def count_chat_tokens(
    model: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
) -> int:
    """Tokens an OpenAI-style chat request will use as prompt, including reply priming.

    Exact for the message texts of OpenAI models; the per-message overhead follows
    OpenAI's published accounting, and tool schemas/calls are close approximations.
    """
    counter = counter_for_model(model)
    total = _REPLY_PRIMING
    for message in messages:
        total += _message_tokens(counter, message)
    return total + count_tool_tokens(model, tools or [])
