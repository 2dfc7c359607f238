"""``client.health()``, ``client.models`` (chat and embedding models) and ``client.tags``:
the read-mostly catalogue."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Literal

from engram.client.checks import Limit, checked
from engram.client.models import WireModel
from engram.client.resource import Resource
from engram.ops import catalog

if TYPE_CHECKING:
    from engram.runtime.engine import Services


class Health(WireModel):
    """Up, which version, and the sandbox custom tools run in (``none``: they are refused)."""

    status: str
    version: str
    sandbox: str


class Model(WireModel):
    """Letta's ``Model``: an LLM config (``handle``, ``model``, ``context_window``...)
    with the listing's names; ``model_type`` is ``"llm"``."""

    handle: str | None = None
    model: str
    name: str
    provider_type: str
    context_window: int


class EmbeddingModel(WireModel):
    """Letta's ``EmbeddingModel``: an embedding config with the listing's names;
    ``model_type`` is ``"embedding"``."""

    handle: str | None = None
    embedding_model: str
    embedding_dim: int
    name: str


async def check_health(services: Services) -> Health:
    """``client.health()``."""
    return Health.model_validate(asdict(await catalog.health(services)))


class AsyncEmbeddingModels(Resource):
    """``client.models.embeddings``."""

    async def list(self) -> list[EmbeddingModel]:
        """Every embedding model: the local one first, then the providers'."""
        return EmbeddingModel.each(await catalog.list_embedding_models(self._services))


class AsyncModels(Resource):
    """``client.models``: the chat models the configured providers offer."""

    def __init__(self, services: Services) -> None:
        super().__init__(services)
        self.embeddings = AsyncEmbeddingModels(services)

    async def list(
        self,
        *,
        provider_category: list[str] | None = None,
        provider_name: str | None = None,
        provider_type: str | None = None,
    ) -> list[Model]:
        """Every provider's chat models, filtered; a provider that cannot list its models
        is left out."""
        found = await catalog.list_models(
            self._services,
            provider_name=provider_name,
            provider_type=provider_type,
            provider_category=provider_category,
        )
        return Model.each(found)


class AsyncTags(Resource):
    """``client.tags``: the agent tags in use."""

    async def list(
        self,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int | None = None,
        name: str | None = None,
        order: Literal["asc", "desc"] = "asc",
        order_by: str = "name",
        query_text: str | None = None,
    ) -> list[str]:
        """Distinct agent tags in name order; ``before``/``after`` are tags, ``query_text``
        a case-blind substring, ``name`` one exact tag."""
        checked("order_by", order_by, Literal["name"])
        query = catalog.TagQuery(
            before=before,
            after=after,
            limit=checked("limit", limit, Limit),
            order=checked("order", order, Literal["asc", "desc"]),
            query_text=query_text,
            name=name,
        )
        return await catalog.list_tags(self._services, query)
