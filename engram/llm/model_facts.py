"""Context windows of well-known models, for providers whose model list does not say."""

from __future__ import annotations

# Longest prefix wins; keep entries sorted by family.
_CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-3.5-turbo": 16_385,
    "gpt-4": 8_192,
    "gpt-4-turbo": 128_000,
    "gpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-5": 400_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "claude": 200_000,
    "deepseek": 128_000,
    "llama-3": 128_000,
    "qwen": 32_768,
    "mistral": 32_768,
}

EMBEDDING_DIMS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


def context_window_for(model: str, default: int) -> int:
    """The model's window from the table by longest matching prefix, else ``default``."""
    best = ""
    for prefix in _CONTEXT_WINDOWS:
        if model.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return _CONTEXT_WINDOWS[best] if best else default


def is_embedding_model(model: str) -> bool:
    return "embed" in model.lower()
