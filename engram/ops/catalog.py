"""The read-mostly catalogue: the server's health, the models its providers offer, an
agent's tools and the tags in use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from engram.ops.deps import HasDb, HasSettings
from engram.store import agents
from engram.tools.confinement import sandbox_in_force
from engram.version import __version__

if TYPE_CHECKING:
    from engram.llm.registry import ProviderRegistry
    from engram.memory.embeddings import EmbeddingRegistry


class HasProviders(Protocol):
    """Lists the chat models the configured providers offer."""

    @property
    def providers(self) -> ProviderRegistry: ...


class HasEmbeddings(Protocol):
    """Lists the embedding models: the local one and the providers'."""

    @property
    def embeddings(self) -> EmbeddingRegistry: ...


@dataclass(frozen=True)
class Health:
    """Up, which version, and the sandbox custom tools run in (``none``: they are refused)."""

    version: str
    status: str
    sandbox: str


async def health(deps: HasSettings) -> Health:
    """No database work: the answer says the process is up and how it runs tools."""
    return Health(version=__version__, status="ok", sandbox=sandbox_in_force(deps.settings).name)


async def list_models(
    deps: HasProviders,
    *,
    provider_name: str | None = None,
    provider_type: str | None = None,
    provider_category: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Every provider's chat models as Letta's ``Model`` (an LLM config with the listing's
    names), filtered; a provider that cannot list its models is left out."""
    models = []
    for entry in await deps.providers.models():
        if entry.is_embedding:
            continue
        config = deps.providers.llm_config(entry)
        models.append(
            {
                **config,
                "name": entry.model,
                "provider_type": entry.kind,
                "model_type": "llm",
                "max_context_window": entry.context_window,
            }
        )
    return [
        model
        for model in models
        if provider_name in (None, model["provider_name"])
        and provider_type in (None, model["provider_type"])
        and (not provider_category or model["provider_category"] in provider_category)
    ]


async def list_embedding_models(deps: HasEmbeddings) -> list[dict[str, Any]]:
    """Every embedding model as Letta's ``EmbeddingModel`` (an embedding config with the
    listing's names); the local model is always first."""
    return [
        {
            **config,
            "name": config["embedding_model"],
            "display_name": config["embedding_model"],
            "provider_type": config["embedding_endpoint_type"],
            "provider_name": config["handle"].split("/", 1)[0],
            "model_type": "embedding",
        }
        for config in await deps.embeddings.list_models()
    ]


@dataclass(frozen=True)
class TagQuery:
    """``GET /v1/tags/``: tags by name; ``before``/``after`` are tags relative to the order,
    ``query_text`` a case-blind substring, ``name`` one exact tag."""

    before: str | None = None
    after: str | None = None
    limit: int | None = None
    order: Literal["asc", "desc"] = "asc"
    query_text: str | None = None
    name: str | None = None


async def list_tags(deps: HasDb, query: TagQuery) -> list[str]:
    """The distinct agent tags matching ``query``, in name order."""
    return _matching(await deps.db.read(agents.all_tags), query)


def _matching(tags: list[str], query: TagQuery) -> list[str]:
    if query.name is not None:
        tags = [tag for tag in tags if tag == query.name]
    if query.query_text:
        wanted = query.query_text.lower()
        tags = [tag for tag in tags if wanted in tag.lower()]
    descending = query.order == "desc"
    if descending:
        tags.reverse()
    if query.after is not None:
        after = query.after
        tags = [tag for tag in tags if (tag < after if descending else tag > after)]
    if query.before is not None:
        before = query.before
        tags = [tag for tag in tags if (tag > before if descending else tag < before)]
    return tags[: query.limit] if query.limit is not None else tags
