"""How much a model can read and write: what its provider states, else a maintained table.

The registry asks, in order: the provider's own model list (``stated_facts``), the config
file's per-model facts, this table (``context_window_for``, ``max_output_tokens_for``), and
finally the ``default_context_window`` setting. Agents can still override the window.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelFacts:
    """A model's limits in tokens; ``None`` where nobody said."""

    context_window: int | None = None
    max_output_tokens: int | None = None


# Prefix of the normalized model id (see ``_normalize``) -> (context window, max output).
# Longest prefix wins, so a specific entry only needs to exist where it differs from its
# family. Max output is None where the serving software decides it (open-weight models):
# asking a vLLM server for more than it allows is an error, asking for nothing is not.
_TABLE: dict[str, tuple[int, int | None]] = {
    # OpenAI
    "gpt-3.5-turbo": (16_385, 4_096),
    "gpt-4": (8_192, 8_192),
    "gpt-4-32k": (32_768, 8_192),
    "gpt-4-turbo": (128_000, 4_096),
    "gpt-4-1106": (128_000, 4_096),
    "gpt-4-0125": (128_000, 4_096),
    "gpt-4o": (128_000, 16_384),
    "gpt-4o-2024-05-13": (128_000, 4_096),
    "chatgpt-4o": (128_000, 16_384),
    "gpt-4.1": (1_047_576, 32_768),
    "gpt-4.5": (128_000, 16_384),
    "gpt-5": (400_000, 128_000),
    "gpt-5-chat": (128_000, 16_384),
    "gpt-oss": (131_072, None),
    "o1": (200_000, 100_000),
    "o1-mini": (128_000, 65_536),
    "o1-preview": (128_000, 32_768),
    "o3": (200_000, 100_000),
    "o4-mini": (200_000, 100_000),
    # Anthropic: every Claude 3 and 4 model reads 200k; output differs by generation.
    "claude": (200_000, 4_096),
    "claude-2": (100_000, 4_096),
    "claude-2.1": (200_000, 4_096),
    "claude-3-5": (200_000, 8_192),
    "claude-3-7": (200_000, 64_000),
    "claude-sonnet-4": (200_000, 64_000),
    "claude-opus-4": (200_000, 32_000),
    "claude-opus-4-5": (200_000, 64_000),
    "claude-haiku-4": (200_000, 64_000),
    # Meta Llama
    "llama2": (4_096, None),
    "llama3": (8_192, None),
    "llama3.1": (131_072, None),
    "llama3.2": (131_072, None),
    "llama3.3": (131_072, None),
    # Qwen: native windows (servers may extend them with YaRN and then say so).
    "qwen": (32_768, None),
    "qwen2.5": (32_768, None),
    "qwen3": (32_768, None),
    "qwen3-coder": (262_144, None),
    "qwq": (131_072, None),
    # Mistral
    "mistral": (32_768, None),
    "mistral-large": (131_072, None),
    "mistral-medium": (131_072, None),
    "mistral-nemo": (131_072, None),
    "open-mistral-nemo": (131_072, None),
    "ministral": (131_072, None),
    "mixtral": (32_768, None),
    "mixtral-8x22b": (65_536, None),
    "codestral": (262_144, None),
    # DeepSeek: the hosted API's limits for its two names; open weights read 128k.
    "deepseek": (128_000, None),
    "deepseek-chat": (128_000, 8_192),
    "deepseek-reasoner": (128_000, 65_536),
    "deepseek-coder": (16_384, None),
    "deepseek-coder-v2": (131_072, None),
    # Google Gemma
    "gemma": (8_192, None),
    "gemma2": (8_192, None),
    "gemma3": (131_072, None),
    "gemma3-1b": (32_768, None),
    "gemma3:1b": (32_768, None),
    "gemma3n": (32_768, None),
}

EMBEDDING_DIMS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
}

# Families whose ids are written both with and without a hyphen before the version
# ("llama-3.1-8b", "llama3.1:8b"): one spelling in the table covers both.
_HYPHENATED_VERSION = re.compile(r"^(llama|qwen|gemma)-(\d)")


def _normalize(model: str) -> str:
    """The part of an id the table is keyed by: no vendor path, lower case, one spelling.

    ``meta-llama/Meta-Llama-3.1-70B-Instruct`` -> ``llama3.1-70b-instruct``.
    """
    name = model.rsplit("/", 1)[-1].lower().removeprefix("meta-")
    return _HYPHENATED_VERSION.sub(r"\1\2", name)


def table_facts(model: str) -> ModelFacts:
    """The maintained table's entry for ``model`` by longest matching prefix, if any."""
    name = _normalize(model)
    best = max((prefix for prefix in _TABLE if name.startswith(prefix)), key=len, default=None)
    if best is None:
        return ModelFacts()
    window, max_output = _TABLE[best]
    return ModelFacts(context_window=window, max_output_tokens=max_output)


def context_window_for(model: str, default: int) -> int:
    """The model's window from the table, else ``default``."""
    return table_facts(model).context_window or default


def max_output_tokens_for(model: str) -> int | None:
    """The most tokens the model may write in one reply, from the table; ``None`` if unknown."""
    return table_facts(model).max_output_tokens


def is_embedding_model(model: str) -> bool:
    return "embed" in model.lower()


# Where OpenAI-compatible servers put limits in their ``/v1/models`` entries, most specific
# first: LM Studio (``loaded_context_length`` is what is loaded now), vLLM
# (``max_model_len``), Groq (``context_window``), OpenRouter and Together
# (``context_length``), Mistral (``max_context_length``), Anthropic (``max_input_tokens``).
_WINDOW_KEYS = (
    ("loaded_context_length",),
    ("max_model_len",),
    ("context_window",),
    ("context_length",),
    ("max_context_length",),
    ("max_input_tokens",),
    ("top_provider", "context_length"),
    # llama.cpp server: the window it runs with when reported, else the training window.
    ("meta", "n_ctx"),
    ("meta", "n_ctx_train"),
)
_OUTPUT_KEYS = (
    ("max_output_tokens",),
    ("max_completion_tokens",),
    ("top_provider", "max_completion_tokens"),
)


def stated_facts(entry: Mapping[str, Any]) -> ModelFacts:
    """The limits a provider's model-list entry states itself, read from its raw JSON."""
    max_output = _first_count(entry, _OUTPUT_KEYS)
    if max_output is None and "max_input_tokens" in entry:
        # Anthropic's model info pairs ``max_input_tokens`` with ``max_tokens`` (output);
        # elsewhere ``max_tokens`` is too ambiguous to trust.
        max_output = _first_count(entry, (("max_tokens",),))
    return ModelFacts(
        context_window=_first_count(entry, _WINDOW_KEYS), max_output_tokens=max_output
    )


def _first_count(entry: Mapping[str, Any], paths: tuple[tuple[str, ...], ...]) -> int | None:
    for path in paths:
        value: Any = entry
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


# Prefixes (of normalized ids, as ``_TABLE``'s) of models known to read text only: an image
# sent to one is refused before the call. Longest prefix wins, so a vision model of a
# text-only family is listed as ``True``. Models not listed are taken to read images; their
# provider refuses the call if they do not.
_VISION: dict[str, bool] = {
    "gpt-3.5": False,
    "gpt-4": False,
    "gpt-4-turbo": True,
    "gpt-4-1106-vision": True,
    "gpt-4-vision": True,
    "gpt-4o": True,
    "gpt-4.1": True,
    "gpt-4.5": True,
    "gpt-oss": False,
    "o1-mini": False,
    "o1-preview": False,
    "o3-mini": False,
    "claude-2": False,
    "claude-instant": False,
    "claude-3-5-haiku": True,
    "text-embedding": False,
    "llama2": False,
    "llama3": False,
    "llama3.2-11b-vision": True,
    "llama3.2-90b-vision": True,
    "qwen": False,
    "qwen2.5-vl": True,
    "qwen-vl": True,
    "deepseek": False,
    "mistral-7b": False,
    "mixtral": False,
    "phi": False,
}


def reads_images(model: str) -> bool:
    """Whether ``model`` takes images in its prompt, as far as Engram knows."""
    name = _normalize(model)
    best = max((prefix for prefix in _VISION if name.startswith(prefix)), key=len, default=None)
    return True if best is None else _VISION[best]
