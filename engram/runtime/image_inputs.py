"""Images in a turn's input: refused before anything is stored when the model that would
read them reads text only (``llm.model_facts.reads_images``), so the user hears why at once
rather than from a failed run after the provider refused the call."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from engram.errors import InvalidInput
from engram.llm.model_facts import reads_images
from engram.runtime.step_rows import InputMessage
from engram.store import agents


def check_images(
    session: Session, agent_id: str, inputs: Sequence[InputMessage], model: str | None = None
) -> None:
    """Raises InvalidInput naming the first message with an image when ``model`` (the
    request's ``override_model``, else the agent's) reads text only."""
    with_images = [i for i, item in enumerate(inputs) if _has_image(item)]
    if not with_images:
        return
    model = model or str(agents.get(session, agent_id).llm_config["model"])
    if reads_images(model):
        return
    raise InvalidInput(
        f"messages.{with_images[0]}.content",
        f"the model '{model}' does not read images; send text only, or use a model that "
        "reads images (override_model, or PATCH the agent's model). Nothing was stored",
    )


def _has_image(item: InputMessage) -> bool:
    return any(part.get("type") == "image" for part in item.parts or [])
