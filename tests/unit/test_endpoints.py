"""Provider endpoints: found by their usual variables, declared in a TOML file, checked strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from engram.config import Settings
from engram.llm.endpoints import (
    KNOWN_SERVICES,
    ConfigError,
    Endpoint,
    ModelSpec,
    from_environment,
    load_endpoints,
)
from engram.llm.model_facts import max_output_tokens_for, stated_facts, table_facts
from engram.llm.registry import ProviderRegistry


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No provider variable of the machine running the tests leaks into them."""
    for service in KNOWN_SERVICES:
        for var in (service.key_var, service.url_var):
            if var:
                monkeypatch.delenv(var, raising=False)
    for var in ("ENGRAM_OPENAI_API_KEY", "ENGRAM_OPENAI_BASE_URL", "ENGRAM_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ENGRAM_DATA_DIR", str(tmp_path / "data"))


def write_config(tmp_path: Path, text: str, name: str = "engram.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def by_name(endpoints: list[Endpoint]) -> dict[str, Endpoint]:
    return {endpoint.name: endpoint for endpoint in endpoints}


# --------------------------------------------------------------------------- environment


def test_each_service_is_found_by_its_usual_variables() -> None:
    found = by_name(
        from_environment(
            {
                "OPENAI_API_KEY": "sk-openai",
                "ANTHROPIC_API_KEY": "sk-ant",
                "OPENROUTER_API_KEY": "sk-or",
                "GROQ_API_KEY": "gsk",
                "TOGETHER_API_KEY": "tg",
                "DEEPSEEK_API_KEY": "ds",
                "OLLAMA_BASE_URL": "http://gpu-box:11434",
            }
        )
    )

    assert found["openai"] == Endpoint("openai", "openai", "https://api.openai.com/v1", "sk-openai")
    assert found["anthropic"].kind == "anthropic"
    assert found["anthropic"].api_key == "sk-ant"
    assert found["openrouter"].base_url == "https://openrouter.ai/api/v1"
    assert found["groq"].base_url == "https://api.groq.com/openai/v1"
    assert found["together"].base_url == "https://api.together.xyz/v1"
    assert found["deepseek"].base_url == "https://api.deepseek.com/v1"
    # Ollama's variable names the server root; its OpenAI API lives under /v1.
    assert found["ollama"] == Endpoint("ollama", "openai", "http://gpu-box:11434/v1", None)
    assert {e.kind for name, e in found.items() if name != "anthropic"} == {"openai"}


def test_a_base_url_alone_configures_a_keyless_local_server() -> None:
    found = from_environment({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"})

    assert found == [Endpoint("openai", "openai", "http://127.0.0.1:8000/v1", None)]


def test_empty_variables_count_as_unset() -> None:
    assert from_environment({"OPENAI_API_KEY": "", "GROQ_API_KEY": "", "OLLAMA_BASE_URL": ""}) == []


def test_engram_prefixed_openai_variables_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGRAM_OPENAI_BASE_URL", "http://127.0.0.1:9999/v1")

    found = load_endpoints(Settings(), {})

    assert found == [Endpoint("openai", "openai", "http://127.0.0.1:9999/v1", None)]


def test_api_keys_stay_out_of_reprs() -> None:
    endpoint = Endpoint("openai", "openai", "https://api.openai.com/v1", "sk-very-secret")

    assert "sk-very-secret" not in repr(endpoint)


# --------------------------------------------------------------------------- config file


def test_config_file_declares_named_endpoints(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        [[providers]]
        name = "vllm"
        base_url = "http://127.0.0.1:8000/v1"
        timeout = 600
        models = [
            "Qwen/Qwen2.5-7B-Instruct",
            { id = "nomic-embed-text", embedding = true, embedding_dim = 768 },
            { id = "big", context_window = 65536, max_output_tokens = 4096 },
        ]

        [[providers]]
        name = "claude"
        kind = "anthropic"
        api_key = "sk-ant-file"
        """,
    )

    found = by_name(load_endpoints(Settings(ENGRAM_CONFIG=str(path)), {}))

    vllm = found["vllm"]
    assert (vllm.kind, vllm.base_url, vllm.api_key, vllm.timeout) == (
        "openai",
        "http://127.0.0.1:8000/v1",
        None,
        600,
    )
    assert vllm.models == (
        ModelSpec(id="Qwen/Qwen2.5-7B-Instruct"),
        ModelSpec(id="nomic-embed-text", embedding=True, embedding_dim=768),
        ModelSpec(id="big", context_window=65536, max_output_tokens=4096),
    )
    claude = found["claude"]
    assert (claude.kind, claude.base_url, claude.api_key, claude.models) == (
        "anthropic",
        "https://api.anthropic.com",
        "sk-ant-file",
        None,
    )


def test_well_known_names_need_no_base_url(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[[providers]]\nname = "groq"\napi_key = "gsk-file"\n')

    found = load_endpoints(Settings(ENGRAM_CONFIG=str(path)), {})

    assert found == [Endpoint("groq", "openai", "https://api.groq.com/openai/v1", "gsk-file")]


def test_api_key_env_reads_the_key_from_the_named_variable(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[[providers]]\nname = "router"\nbase_url = "https://openrouter.ai/api/v1"\n'
        'api_key_env = "MY_ROUTER_KEY"\n',
    )

    found = load_endpoints(Settings(ENGRAM_CONFIG=str(path)), {"MY_ROUTER_KEY": "sk-from-env"})

    assert found[0].api_key == "sk-from-env"


def test_file_entries_replace_environment_entries_of_the_same_name(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[[providers]]\nname = "openai"\nbase_url = "http://127.0.0.1:7000/v1"\napi_key = "file"\n',
    )
    environ = {"OPENAI_API_KEY": "env-key", "GROQ_API_KEY": "gsk"}

    found = by_name(load_endpoints(Settings(ENGRAM_CONFIG=str(path)), environ))

    assert found["openai"] == Endpoint("openai", "openai", "http://127.0.0.1:7000/v1", "file")
    assert found["groq"].api_key == "gsk"


def test_the_data_dir_config_is_read_when_engram_config_is_unset(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_config(data_dir, '[[providers]]\nname = "ollama"\n', name="config.toml")

    assert load_endpoints(Settings(data_dir=data_dir), {}) == [
        Endpoint("ollama", "openai", "http://localhost:11434/v1", None)
    ]
    chosen = write_config(tmp_path, "providers = []\n")
    assert load_endpoints(Settings(data_dir=data_dir, ENGRAM_CONFIG=str(chosen)), {}) == []


def test_no_config_file_and_no_variables_means_no_providers() -> None:
    assert load_endpoints(Settings(), {}) == []


# --------------------------------------------------------------------------- validation

BAD_CONFIGS = {
    "unknown kind": (
        '[[providers]]\nname = "a"\nkind = "azure"\nbase_url = "http://h/v1"\n',
        "providers[0].kind",
        "'openai' or 'anthropic'",
    ),
    "missing base_url": (
        '[[providers]]\nname = "mybox"\n',
        "providers[0].base_url",
        "required",
    ),
    "duplicate names": (
        '[[providers]]\nname = "a"\nbase_url = "http://h/v1"\n'
        '[[providers]]\nname = "b"\nbase_url = "http://h/v1"\n'
        '[[providers]]\nname = "a"\nbase_url = "http://i/v1"\n',
        "providers[2].name",
        "already names providers[0]",
    ),
    "slash in name": (
        '[[providers]]\nname = "team/a"\nbase_url = "http://h/v1"\n',
        "providers[0].name",
        "contains '/'",
    ),
    "missing name": (
        '[[providers]]\nbase_url = "http://h/v1"\n',
        "providers[0].name",
        "required",
    ),
    "misspelled key": (
        '[[providers]]\nname = "a"\nbase_ulr = "http://h/v1"\n',
        "providers[0].base_ulr",
        "unknown key",
    ),
    "bad model facts": (
        '[[providers]]\nname = "a"\nbase_url = "http://h/v1"\n'
        'models = ["ok", { id = "m", context_window = -5 }]\n',
        "providers[0].models[1].context_window",
        "greater than 0",
    ),
    "empty model list": (
        '[[providers]]\nname = "a"\nbase_url = "http://h/v1"\nmodels = []\n',
        "providers[0].models",
        "at least 1",
    ),
    "key and key variable": (
        '[[providers]]\nname = "groq"\napi_key = "k"\napi_key_env = "SET_VAR"\n',
        "providers[0].api_key_env",
        "not both",
    ),
    "key variable unset": (
        '[[providers]]\nname = "groq"\napi_key_env = "UNSET_VAR"\n',
        "providers[0].api_key_env",
        "'UNSET_VAR' is not set",
    ),
    "misspelled section": (
        '[[provider]]\nname = "a"\nbase_url = "http://h/v1"\n',
        "provider",
        "unknown key",
    ),
    "TOML syntax": (
        '[[providers]]\nname = "a\n',
        "TOML syntax",
        "line 2",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_every_config_error_names_the_file_and_the_key(tmp_path: Path, case: str) -> None:
    text, key, problem = BAD_CONFIGS[case]
    path = write_config(tmp_path, text)

    with pytest.raises(ConfigError) as raised:
        load_endpoints(Settings(ENGRAM_CONFIG=str(path)), {"SET_VAR": "x"})

    message = str(raised.value)
    assert f"{path}: {key}: " in message
    assert problem in message


def test_a_missing_engram_config_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"

    with pytest.raises(ConfigError, match=f"{missing}: ENGRAM_CONFIG: .*does not exist"):
        load_endpoints(Settings(ENGRAM_CONFIG=str(missing)), {})


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[[providers]]\nname = "a"\n[[providers]]\nname = "b"\n')

    with pytest.raises(ConfigError) as raised:
        load_endpoints(Settings(ENGRAM_CONFIG=str(path)), {})

    assert f"{path}: providers[0].base_url: " in str(raised.value)
    assert f"{path}: providers[1].base_url: " in str(raised.value)


# --------------------------------------------------------------------------- registry


async def test_declared_models_need_no_listing_and_their_facts_win() -> None:
    endpoints = [
        Endpoint(
            "claude",
            "anthropic",
            "http://127.0.0.1:9/",
            "k",
            (
                ModelSpec(id="claude-sonnet-4-20250514"),
                ModelSpec(id="claude-x", context_window=1000),
            ),
        ),
        Endpoint("local", "openai", "http://127.0.0.1:9/v1", None, (ModelSpec(id="mystery"),)),
    ]
    registry = ProviderRegistry(Settings(default_context_window=7777), endpoints)

    sonnet = await registry.llm_config_for("claude/claude-sonnet-4-20250514")
    assert sonnet["model_endpoint_type"] == "anthropic"
    assert sonnet["provider_name"] == "claude"
    assert sonnet["context_window"] == 200_000
    # 64k output, capped so a prompt at the fold trigger (0.9 x 200k) still fits.
    assert sonnet["max_tokens"] == 20_000
    assert (await registry.llm_config_for("claude/claude-x"))["context_window"] == 1000
    mystery = await registry.llm_config_for("local/mystery")
    assert (mystery["context_window"], mystery["max_tokens"]) == (7777, None)


async def test_an_agent_whose_provider_is_gone_gets_a_clear_error() -> None:
    from engram.errors import ProviderError

    registry = ProviderRegistry(Settings(), [])

    with pytest.raises(ProviderError, match="needs provider 'groq', which is not configured"):
        registry.client_for({"provider_name": "groq", "handle": "groq/llama-3.3-70b"})


# --------------------------------------------------------------------------- model facts


@pytest.mark.parametrize(
    ("entry", "window", "max_output"),
    [
        ({"id": "m", "max_model_len": 32768}, 32768, None),  # vLLM
        (
            {
                "id": "a/b",
                "context_length": 131072,
                "top_provider": {"max_completion_tokens": 8192},
            },
            131072,
            8192,
        ),  # OpenRouter
        ({"id": "m", "context_window": 131072, "max_completion_tokens": 32768}, 131072, 32768),
        ({"id": "m", "meta": {"n_ctx_train": 8192, "n_vocab": 32000}}, 8192, None),  # llama.cpp
        ({"id": "m", "max_input_tokens": 200000, "max_tokens": 64000}, 200000, 64000),  # Anthropic
        ({"id": "m", "max_tokens": 4096}, None, None),  # ambiguous alone
        ({"id": "m", "context_length": True, "max_model_len": "4096"}, None, None),
        ({"id": "m", "object": "model", "owned_by": "me"}, None, None),
    ],
)
def test_limits_servers_state_in_their_model_lists_are_read(
    entry: dict, window: int | None, max_output: int | None
) -> None:
    facts = stated_facts(entry)

    assert (facts.context_window, facts.max_output_tokens) == (window, max_output)


@pytest.mark.parametrize(
    ("model", "window", "max_output"),
    [
        ("gpt-4o-mini", 128_000, 16_384),
        ("gpt-4.1-mini", 1_047_576, 32_768),
        ("claude-3-5-haiku-20241022", 200_000, 8_192),
        ("claude-opus-4-1-20250805", 200_000, 32_000),
        ("meta-llama/Meta-Llama-3.1-70B-Instruct", 131_072, None),
        ("llama3.2:3b", 131_072, None),
        ("Qwen/Qwen2.5-7B-Instruct", 32_768, None),
        ("mixtral-8x22b-instruct", 65_536, None),
        ("deepseek-reasoner", 128_000, 65_536),
        ("gemma3:1b", 32_768, None),
        ("google/gemma-3-27b-it", 131_072, None),
        ("acme-secret-model", None, None),
    ],
)
def test_the_table_knows_common_families(
    model: str, window: int | None, max_output: int | None
) -> None:
    assert table_facts(model).context_window == window
    assert max_output_tokens_for(model) == max_output
