"""What the model serving a turn can do, checked before anything is stored: images in the
input need a model that reads them (``llm.model_facts.reads_images``), and log
probabilities a provider that gives them (OpenAI-compatible ones; Anthropic's API has
none). The user hears why at once, not from a failed run after the provider refused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.llm.model_facts import reads_images
from engram.runtime.step_rows import InputMessage
from engram.store import agents


def check_abilities(
    session: Session,
    agent_id: str,
    inputs: Sequence[InputMessage],
    llm_config: dict[str, Any] | None = None,
    *,
    logprobs: bool = False,
) -> None:
    """Raises InvalidInput naming the field when the serving model (``llm_config``: the
    request's ``override_model``, else the agent's) cannot take the request: the first
    message with an image for a model that reads text only, or ``return_logprobs`` for a
    provider without log probabilities."""
    with_images = [i for i, item in enumerate(inputs) if _has_image(item)]
    if not with_images and not logprobs:
        return
    config = llm_config or agents.get(session, agent_id).llm_config
    model = str(config["model"])
    if with_images and not reads_images(model):
        raise InvalidInput(
            f"messages.{with_images[0]}.content",
            f"the model '{model}' does not read images; send text only, or use a model that "
            "reads images (override_model, or PATCH the agent's model). Nothing was stored",
        )
    if logprobs and config.get("model_endpoint_type") == "anthropic":
        raise InvalidInput(
            "return_logprobs",
            f"the model '{model}' is served by Anthropic's API, which gives no log "
            "probabilities; send without return_logprobs, or use an OpenAI-compatible model",
        )


def _has_image(item: InputMessage) -> bool:
    return any(part.get("type") == "image" for part in item.parts or [])
