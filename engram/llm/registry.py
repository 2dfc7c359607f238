"""Configured providers and the model handles (``<provider>/<model>``) they offer."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from engram.config import Settings
from engram.errors import ModelNotFound, ProviderError
from engram.llm.client import LLMClient
from engram.llm.endpoints import Endpoint, Kind, ModelSpec, load_endpoints
from engram.llm.model_facts import (
    EMBEDDING_DIMS,
    ModelFacts,
    is_embedding_model,
    stated_facts,
    table_facts,
)
from engram.llm.openai_provider import OpenAIProvider
from engram.llm.text_tools import TextToolCalls

log = logging.getLogger(__name__)

# A provider whose model list failed is asked again after this long rather than on every
# request: one that is down would otherwise add its connection retries to each listing.
RETRY_FAILED_LISTING_SECONDS = 10.0


class Provider(LLMClient, Protocol):
    """What the registry uses of a provider besides chat; one implementation per file."""

    name: str
    base_url: str

    async def list_models(self) -> list[dict[str, Any]]:
        """The provider's model-list entries as JSON objects, every field kept."""
        ...

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]: ...

    async def close(self) -> None:
        """Close the provider's connections."""
        ...


@dataclass(frozen=True)
class ModelEntry:
    handle: str
    provider: str
    model: str
    endpoint: str
    context_window: int
    is_embedding: bool
    kind: Kind = "openai"
    max_output_tokens: int | None = None
    embedding_dim: int | None = None


class ProviderRegistry:
    """Knows every configured provider; caches each provider's model list for a while.

    Raises ConfigError on construction when the config file is wrong.
    """

    def __init__(self, settings: Settings, endpoints: list[Endpoint] | None = None) -> None:
        self.settings = settings
        if endpoints is None:
            endpoints = load_endpoints(settings)
        self.endpoints = {endpoint.name: endpoint for endpoint in endpoints}
        self.providers: dict[str, Provider] = {
            name: _build_provider(endpoint, settings) for name, endpoint in self.endpoints.items()
        }
        self._listings: dict[str, tuple[float, list[ModelEntry] | ProviderError]] = {}
        self._locks = {name: asyncio.Lock() for name in self.providers}
        for endpoint in endpoints:
            log.info("provider '%s' (%s) at %s", endpoint.name, endpoint.kind, endpoint.base_url)

    async def close(self) -> None:
        """Close every provider's connections: at shutdown, none is left to the loop's end."""
        for provider in self.providers.values():
            await provider.close()

    async def models(self) -> list[ModelEntry]:
        """Every provider's models; one that cannot list them is left out (and logged)."""
        listings = await asyncio.gather(*(self._models_or_empty(name) for name in self.providers))
        return [entry for listing in listings for entry in listing]

    async def _models_or_empty(self, name: str) -> list[ModelEntry]:
        try:
            return await self.models_of(name)
        except ProviderError:
            return []  # models_of logged why; the other providers' models still count

    async def models_of(self, name: str) -> list[ModelEntry]:
        """One provider's models, cached. Raises ProviderError when it cannot list them."""
        async with self._locks[name]:
            now = time.monotonic()
            if name in self._listings:
                fetched_at, listing = self._listings[name]
                keep = self.settings.models_cache_seconds
                if isinstance(listing, ProviderError):
                    keep = min(keep, RETRY_FAILED_LISTING_SECONDS)
                if now - fetched_at < keep:
                    if isinstance(listing, ProviderError):
                        raise ProviderError(str(listing))
                    return listing
            try:
                listing = await self._fetch(name)
            except ProviderError as exc:
                log.warning("leaving provider '%s' out of the model list: %s", name, exc)
                self._listings[name] = (now, exc)
                raise
            self._listings[name] = (now, listing)
            return listing

    async def _fetch(self, name: str) -> list[ModelEntry]:
        endpoint = self.endpoints[name]
        if endpoint.models is not None:
            return [self._entry(endpoint, spec.id, ModelFacts(), spec) for spec in endpoint.models]
        listed = await self.providers[name].list_models()
        return [
            self._entry(endpoint, item["id"], stated_facts(item), None)
            for item in listed
            if isinstance(item.get("id"), str) and item["id"]
        ]

    def _entry(
        self, endpoint: Endpoint, model: str, stated: ModelFacts, spec: ModelSpec | None
    ) -> ModelEntry:
        """Facts by precedence: the provider's word, the config file's, the table, the default."""
        told = spec or ModelSpec(id=model)  # a model the file does not describe
        table = table_facts(model)
        window = (
            stated.context_window
            or told.context_window
            or table.context_window
            or self.settings.default_context_window
        )
        return ModelEntry(
            handle=f"{endpoint.name}/{model}",
            provider=endpoint.name,
            model=model,
            endpoint=endpoint.base_url,
            context_window=window,
            is_embedding=is_embedding_model(model) if told.embedding is None else told.embedding,
            kind=endpoint.kind,
            max_output_tokens=(
                stated.max_output_tokens or told.max_output_tokens or table.max_output_tokens
            ),
            embedding_dim=told.embedding_dim,
        )

    async def find(self, handle: str, *, embedding: bool, field: str) -> ModelEntry:
        """The model a handle names. Raises ModelNotFound, naming ``field``, if there is none."""
        # The first "/" ends the provider name: model ids such as OpenRouter's
        # "meta-llama/llama-3-70b-instruct" hold slashes of their own.
        name, _, model = handle.partition("/")
        if not name or not model:
            raise ModelNotFound(field, f"'{handle}' is not a handle of the form provider/model")
        if name not in self.providers:
            raise ModelNotFound(
                field, f"no provider named '{name}' is configured; {self._configured()}"
            )
        try:
            entries = await self.models_of(name)
        except ProviderError as exc:
            raise ModelNotFound(field, f"cannot check '{handle}': {exc}") from exc
        for entry in entries:
            if entry.model == model and entry.is_embedding == embedding:
                return entry
        kind = "embedding model" if embedding else "model"
        raise ModelNotFound(field, f"{kind} '{handle}' is not offered by provider '{name}'")

    async def llm_config_for(self, handle: str, *, field: str = "model") -> dict[str, Any]:
        return self.llm_config(await self.find(handle, embedding=False, field=field))

    def llm_config(self, entry: ModelEntry) -> dict[str, Any]:
        """The ``llm_config`` an agent on this model starts with."""
        return {
            "model": entry.model,
            "display_name": entry.model,
            "model_endpoint_type": entry.kind,
            "model_endpoint": entry.endpoint,
            "provider_name": entry.provider,
            "provider_category": "base",
            "model_wrapper": None,
            "context_window": entry.context_window,
            "put_inner_thoughts_in_kwargs": False,
            "handle": entry.handle,
            "temperature": 0.7,
            "max_tokens": self._reply_budget(entry),
            "enable_reasoner": False,
            "parallel_tool_calls": False,
        }

    def _reply_budget(self, entry: ModelEntry) -> int | None:
        """The model's output limit, capped at what a prompt at the fold trigger leaves free.

        Providers refuse a call whose prompt plus ``max_tokens`` exceeds the window, and the
        prompt may grow to ``summarize_trigger`` x window before the oldest messages fold.
        """
        if entry.max_output_tokens is None:
            return None
        window = entry.context_window
        room = window - int(window * self.settings.summarize_trigger)
        return min(entry.max_output_tokens, room) if room > 0 else entry.max_output_tokens

    def client_for(self, llm_config: dict[str, Any]) -> LLMClient:
        """The provider serving an agent's model. Raises ProviderError if it is not configured."""
        name = llm_config.get("provider_name") or "openai"
        provider = self.providers.get(name)
        if provider is None:
            raise ProviderError(
                f"the agent's model '{llm_config.get('handle') or llm_config.get('model')}' "
                f"needs provider '{name}', which is not configured; {self._configured()}"
            )
        if llm_config.get("tool_call_format") == "json_text":
            return TextToolCalls(provider)  # tools as JSON text: see engram/llm/text_tools.py
        return provider

    def embedding_dim_for(self, model: str) -> int:
        return EMBEDDING_DIMS.get(model, 1536)

    def _configured(self) -> str:
        if self.providers:
            return "configured: " + ", ".join(self.providers)
        return (
            "none is: set OPENAI_API_KEY or OPENAI_BASE_URL (or another provider's variables), "
            "or declare providers in a config file (see docs/providers.md)"
        )


def _build_provider(endpoint: Endpoint, settings: Settings) -> Provider:
    timeout = endpoint.timeout or settings.llm_timeout_seconds
    if endpoint.kind == "anthropic":
        # Imported here so the Anthropic SDK loads only when an Anthropic endpoint exists.
        from engram.llm.anthropic_provider import AnthropicProvider

        return AnthropicProvider(
            endpoint.name, endpoint.api_key, endpoint.base_url, timeout, settings.llm_max_retries
        )
    return OpenAIProvider(
        endpoint.name, endpoint.api_key, endpoint.base_url, timeout, settings.llm_max_retries
    )
