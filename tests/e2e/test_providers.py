"""Several providers at once: from a config file and the environment, each with its models.

One ``engram serve`` runs with a config file naming two OpenAI-compatible endpoints (each a
fake LLM server with its own models and key), an Anthropic endpoint with declared models,
and one endpoint nothing listens on; the environment's OPENAI_* variables add a third fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from engram.llm.endpoints import KNOWN_SERVICES
from tests.fakes import FakeLLM
from tests.support.backends import Backend
from tests.support.server import EngramServer, free_port

SLASHED = "meta-llama/llama-3.1-8b-instruct"
DEFAULT_WINDOW = 12_345


class StatingFakeLLM(FakeLLM):
    """A fake whose model list states context lengths the way OpenRouter's does."""

    stated: dict[str, dict[str, Any]] = {
        SLASHED: {"context_length": 65_536, "top_provider": {"max_completion_tokens": 2_048}},
    }

    def _model_json(self, model_id: str) -> dict[str, Any]:  # type: ignore[override]
        return {**super()._model_json(model_id), **self.stated.get(model_id, {})}


def quiet_environment() -> dict[str, str]:
    """Blank every well-known provider variable so the machine's own keys stay out."""
    blank = {var: "" for s in KNOWN_SERVICES for var in (s.key_var, s.url_var) if var}
    blank.pop("OPENAI_API_KEY")
    blank.pop("OPENAI_BASE_URL")
    return blank


@pytest.fixture(scope="module")
def router() -> Iterator[FakeLLM]:
    with StatingFakeLLM(models=[SLASHED, "mistral-small"], api_key="router-key") as fake:
        yield fake


@pytest.fixture(scope="module")
def lab() -> Iterator[FakeLLM]:
    # Its model list is never asked for: the config file declares the models.
    with FakeLLM(models=[], api_key="lab-secret") as fake:
        yield fake


@pytest.fixture(scope="module")
def server(
    router: FakeLLM,
    lab: FakeLLM,
    fake_llm_server: FakeLLM,
    tmp_path_factory: pytest.TempPathFactory,
    backend: Backend,
) -> Iterator[EngramServer]:
    data_dir = tmp_path_factory.mktemp("providers")
    config = data_dir / "providers.toml"
    config.write_text(
        f"""
[[providers]]
name = "router"
base_url = "{router.base_url}"
api_key = "router-key"

[[providers]]
name = "lab"
base_url = "{lab.base_url}"
api_key_env = "LAB_KEY"
models = [
    {{ id = "qwen2.5-7b-instruct", context_window = 24000, max_output_tokens = 1000 }},
    "gpt-4o-mini",
    "acme-1",
]

[[providers]]
name = "claude"
kind = "anthropic"
base_url = "http://127.0.0.1:{free_port()}"
api_key = "unused"
models = ["claude-sonnet-4-20250514"]

[[providers]]
name = "down"
base_url = "http://127.0.0.1:{free_port()}/v1"
"""
    )
    env = {
        **quiet_environment(),
        "ENGRAM_CONFIG": str(config),
        "LAB_KEY": "lab-secret",
        "ENGRAM_DEFAULT_CONTEXT_WINDOW": str(DEFAULT_WINDOW),
        # The endpoint nobody listens on fails at once instead of after backed-off retries.
        "ENGRAM_LLM_MAX_RETRIES": "0",
    }
    engram = EngramServer(
        data_dir, fake_llm_server.base_url, env, database_url=backend.database_url()
    )
    engram.start()
    yield engram
    engram.stop()


@pytest.fixture
def api(
    server: EngramServer, fake_llm: FakeLLM, router: FakeLLM, lab: FakeLLM
) -> Iterator[httpx.Client]:
    router.reset()
    lab.reset()
    with server.client() as client:
        yield client


def models_by_handle(api: httpx.Client) -> dict[str, dict[str, Any]]:
    response = api.get("/v1/models/")
    assert response.status_code == 200, response.text
    return {model["handle"]: model for model in response.json()}


def create_agent(api: httpx.Client, handle: str) -> dict[str, Any]:
    response = api.post("/v1/agents/", json={"model": handle})
    assert response.status_code == 200, response.text
    return response.json()


def talk(api: httpx.Client, agent_id: str) -> None:
    response = api.post(f"/v1/agents/{agent_id}/messages", json={"input": "hello"})
    assert response.status_code == 200, response.text


def test_models_of_every_provider_are_listed_with_their_windows(api: httpx.Client) -> None:
    models = models_by_handle(api)

    assert set(models) == {
        "openai/gpt-4o-mini",
        "openai/fake-small",
        f"router/{SLASHED}",
        "router/mistral-small",
        "lab/qwen2.5-7b-instruct",
        "lab/gpt-4o-mini",
        "lab/acme-1",
        "claude/claude-sonnet-4-20250514",
    }
    windows = {handle: model["context_window"] for handle, model in models.items()}
    assert windows[f"router/{SLASHED}"] == 65_536  # the provider says (the table: 131,072)
    assert windows["lab/qwen2.5-7b-instruct"] == 24_000  # the file says (the table: 32,768)
    assert windows["lab/gpt-4o-mini"] == 128_000  # the table
    assert windows["lab/acme-1"] == DEFAULT_WINDOW  # nobody knows: the default
    assert models[f"router/{SLASHED}"]["max_tokens"] == 2_048
    assert models["lab/qwen2.5-7b-instruct"]["max_tokens"] == 1_000
    assert models["lab/acme-1"]["max_tokens"] is None
    sonnet = models["claude/claude-sonnet-4-20250514"]
    assert (sonnet["provider_type"], sonnet["model_endpoint_type"]) == ("anthropic", "anthropic")
    assert sonnet["context_window"] == 200_000
    for model in models.values():
        assert model["max_context_window"] == model["context_window"]
        assert model["provider_name"] == model["handle"].split("/", 1)[0]


def test_models_filter_by_provider_name(api: httpx.Client) -> None:
    response = api.get("/v1/models/", params={"provider_name": "lab"})

    assert {model["handle"] for model in response.json()} == {
        "lab/qwen2.5-7b-instruct",
        "lab/gpt-4o-mini",
        "lab/acme-1",
    }


def test_each_agent_talks_to_its_own_provider(
    api: httpx.Client, fake_llm: FakeLLM, router: FakeLLM, lab: FakeLLM
) -> None:
    on_router = create_agent(api, f"router/{SLASHED}")
    on_lab = create_agent(api, "lab/qwen2.5-7b-instruct")
    on_env = create_agent(api, "openai/gpt-4o-mini")

    assert on_router["llm_config"]["provider_name"] == "router"
    assert on_router["llm_config"]["model"] == SLASHED
    assert on_router["llm_config"]["context_window"] == 65_536
    assert on_lab["llm_config"]["model_endpoint"] == lab.base_url
    assert on_env["llm_config"]["model_endpoint_type"] == "openai"

    talk(api, on_router["id"])
    assert {r.model for r in router.chat_requests} == {SLASHED}
    assert router.chat_requests[0].authorization == "Bearer router-key"
    assert not lab.chat_requests and not fake_llm.chat_requests

    talk(api, on_lab["id"])
    assert {r.model for r in lab.chat_requests} == {"qwen2.5-7b-instruct"}
    # The key came from the variable api_key_env names; the reply budget from the file.
    assert lab.chat_requests[0].authorization == "Bearer lab-secret"
    assert lab.chat_requests[0].json["max_tokens"] == 1_000
    assert not fake_llm.chat_requests

    talk(api, on_env["id"])
    assert {r.model for r in fake_llm.chat_requests} == {"gpt-4o-mini"}
    assert len(router.chat_requests) == 1 and len(lab.chat_requests) == 1


def test_a_provider_that_is_down_hides_only_its_own_models(
    api: httpx.Client, server: EngramServer
) -> None:
    assert not any(handle.startswith("down/") for handle in models_by_handle(api))

    response = api.post("/v1/agents/", json={"model": "down/some-model"})

    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("model: ")
    assert "provider 'down'" in detail
    create_agent(api, "router/mistral-small")  # the others still work meanwhile
    assert "leaving provider 'down' out of the model list" in server.log()


def test_a_handle_of_an_unknown_provider_is_rejected_naming_model(api: httpx.Client) -> None:
    response = api.post("/v1/agents/", json={"model": "nowhere/gpt-4o"})

    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith("model: ")
    assert "no provider named 'nowhere'" in detail
    assert "router" in detail  # it lists the configured ones


def test_a_model_the_provider_does_not_offer_is_rejected(api: httpx.Client) -> None:
    response = api.post("/v1/agents/", json={"model": "router/meta-llama/llama-9"})

    assert response.status_code == 422, response.text
    assert "not offered by provider 'router'" in response.json()["detail"]


def test_a_broken_config_file_stops_the_server_naming_file_and_key(
    tmp_path: Path, fake_llm_server: FakeLLM, backend: Backend
) -> None:
    config = tmp_path / "broken.toml"
    config.write_text('[[providers]]\nname = "box"\nkind = "openia"\nbase_url = "http://h/v1"\n')
    engram = EngramServer(
        tmp_path / "data",
        fake_llm_server.base_url,
        {**quiet_environment(), "ENGRAM_CONFIG": str(config)},
        database_url=backend.database_url(),
    )

    with pytest.raises(RuntimeError, match="exited early"):
        engram.start()

    assert engram.process is not None and engram.process.returncode != 0
    # Compared without whitespace: a traceback printer may wrap long lines anywhere.
    log = "".join(engram.log().split())
    assert f"{config}:providers[0].kind:" in log
