"""Configured providers and the model handles (``<provider>/<model>``) they offer."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from engram.config import Settings
from engram.errors import ModelNotFound, ProviderError
from engram.llm.client import LLMClient
from engram.llm.model_facts import EMBEDDING_DIMS, context_window_for, is_embedding_model
from engram.llm.openai_provider import OpenAIProvider


@dataclass(frozen=True)
class ModelEntry:
    handle: str
    provider: str
    model: str
    endpoint: str
    context_window: int
    is_embedding: bool


class ProviderRegistry:
    """Knows every configured provider; caches each provider's model list for a while."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.providers: dict[str, OpenAIProvider] = {}
        if settings.openai_api_key or settings.openai_base_url:
            self.providers["openai"] = OpenAIProvider(
                "openai",
                settings.openai_api_key,
                settings.openai_base_url,
                settings.llm_timeout_seconds,
            )
        self._cache: tuple[float, list[ModelEntry]] | None = None
        self._lock = asyncio.Lock()

    async def models(self) -> list[ModelEntry]:
        async with self._lock:
            now = time.monotonic()
            if self._cache and now - self._cache[0] < self.settings.models_cache_seconds:
                return self._cache[1]
            entries: list[ModelEntry] = []
            for name, provider in self.providers.items():
                for model_id in await provider.list_model_ids():
                    entries.append(
                        ModelEntry(
                            handle=f"{name}/{model_id}",
                            provider=name,
                            model=model_id,
                            endpoint=provider.base_url,
                            context_window=context_window_for(
                                model_id, self.settings.default_context_window
                            ),
                            is_embedding=is_embedding_model(model_id),
                        )
                    )
            self._cache = (now, entries)
            return entries

    async def find(self, handle: str, *, embedding: bool, field: str) -> ModelEntry:
        provider, _, model = handle.partition("/")
        if not model:
            raise ModelNotFound(field, f"'{handle}' is not a handle of the form provider/model")
        if provider not in self.providers:
            configured = ", ".join(self.providers) or "none (set OPENAI_API_KEY or OPENAI_BASE_URL)"
            raise ModelNotFound(
                field, f"no provider named '{provider}' is configured; configured: {configured}"
            )
        try:
            entries = await self.models()
        except ProviderError as exc:
            raise ModelNotFound(field, str(exc)) from exc
        for entry in entries:
            if entry.handle == handle and entry.is_embedding == embedding:
                return entry
        kind = "embedding model" if embedding else "model"
        raise ModelNotFound(field, f"{kind} '{handle}' is not offered by provider '{provider}'")

    async def llm_config_for(self, handle: str, *, field: str = "model") -> dict[str, Any]:
        entry = await self.find(handle, embedding=False, field=field)
        return {
            "model": entry.model,
            "display_name": entry.model,
            "model_endpoint_type": "openai",
            "model_endpoint": entry.endpoint,
            "provider_name": entry.provider,
            "provider_category": "base",
            "model_wrapper": None,
            "context_window": entry.context_window,
            "put_inner_thoughts_in_kwargs": False,
            "handle": entry.handle,
            "temperature": 0.7,
            "max_tokens": None,
            "enable_reasoner": False,
            "parallel_tool_calls": False,
        }

    def client_for(self, llm_config: dict[str, Any]) -> LLMClient:
        name = llm_config.get("provider_name") or "openai"
        provider = self.providers.get(name)
        if provider is None:
            raise ProviderError(
                f"the agent's model needs provider '{name}', which is not configured: "
                "set OPENAI_API_KEY / OPENAI_BASE_URL"
            )
        return provider

    def embedding_dim_for(self, model: str) -> int:
        return EMBEDDING_DIMS.get(model, 1536)
