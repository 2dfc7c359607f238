"""The HTTP reranker against a reranking server on a loopback port (tests/fakes/reranker.py):
each dialect's request and answer, the API key, bounded retries, deadlines, unreadable
answers; and the settings that configure it, refused when incomplete."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from engram.memory.rerank import RerankFailed, rerank, reranker_from
from engram.memory.rerank.base import RerankPolicy
from engram.memory.rerank.http import HttpReranker, HttpRerankerConfig, Kind, endpoint_of
from tests.fakes.reranker import FakeReranker
from tests.support.inprocess import settings_from

DOCUMENTS = ["the cat sat", "a violet umbrella by the door", "umbrella"]
QUERY = "where is the violet umbrella"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeReranker]:
    fake = FakeReranker()
    yield fake
    fake.close()


@pytest.fixture
def fake(server: FakeReranker) -> FakeReranker:
    server.reset()
    return server


def reranker_for(fake: FakeReranker, kind: Kind, **options: object) -> HttpReranker:
    return HttpReranker(HttpRerankerConfig(kind=kind, url=fake.base_url, **options))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "path", "documents_field"),
    [
        ("cohere", "/v2/rerank", "documents"),
        ("jina", "/v1/rerank", "documents"),
        ("voyage", "/v1/rerank", "documents"),
        ("vllm", "/v1/rerank", "documents"),
        ("tei", "/rerank", "texts"),
    ],
)
async def test_each_dialect_is_asked_its_way_and_read_back_in_document_order(
    fake: FakeReranker, kind: Kind, path: str, documents_field: str
) -> None:
    reranker = reranker_for(fake, kind, model="rr-small", api_key="sk-rerank")
    try:
        scores = await reranker.scores(QUERY, DOCUMENTS)
    finally:
        await reranker.close()

    assert scores == [1.0, 3.0, 1.0]
    (request,) = fake.requests
    assert request["path"] == path
    assert request["body"][documents_field] == DOCUMENTS
    assert request["body"]["query"] == QUERY and request["body"]["model"] == "rr-small"
    assert request["headers"]["Authorization"] == "Bearer sk-rerank"
    assert reranker.name == f"{kind}:rr-small"


def test_a_url_naming_its_endpoint_is_used_as_it_is() -> None:
    assert endpoint_of("cohere", "https://r.example/v1/rerank") == "https://r.example/v1/rerank"
    assert endpoint_of("cohere", "https://r.example/") == "https://r.example/v2/rerank"
    assert endpoint_of("tei", "http://tei:8080") == "http://tei:8080/rerank"


async def test_a_passing_failure_is_tried_again_and_a_lasting_one_is_an_error(
    fake: FakeReranker,
) -> None:
    reranker = reranker_for(fake, "tei", max_retries=1)
    try:
        fake.failures = [503]
        assert await reranker.scores(QUERY, DOCUMENTS) == [1.0, 3.0, 1.0]
        assert len(fake.requests) == 2

        fake.requests.clear()
        fake.failures = [503, 503, 503]
        with pytest.raises(RerankFailed, match=r"tei.*HTTP 503.*bad day"):
            await reranker.scores(QUERY, DOCUMENTS)
        assert len(fake.requests) == 2  # one try and one retry, no more

        fake.requests.clear()
        fake.failures = [401]
        with pytest.raises(RerankFailed, match="HTTP 401"):
            await reranker.scores(QUERY, DOCUMENTS)
        assert len(fake.requests) == 1  # a refusal is not tried again
    finally:
        await reranker.close()


async def test_a_late_or_unreadable_answer_is_an_error_naming_the_reranker(
    fake: FakeReranker,
) -> None:
    reranker = reranker_for(fake, "jina", timeout_seconds=0.3, max_retries=0)
    try:
        fake.delay = 1.0
        with pytest.raises(RerankFailed, match="no answer within 0.3 seconds"):
            await reranker.scores(QUERY, DOCUMENTS)
        fake.delay = 0.0
        fake.garbage = True
        with pytest.raises(RerankFailed, match="jina.*not JSON"):
            await reranker.scores(QUERY, DOCUMENTS)
    finally:
        await reranker.close()


async def test_rerank_keeps_the_fused_order_when_the_reranker_fails_unless_told_to_refuse(
    fake: FakeReranker,
) -> None:
    lenient = reranker_for(fake, "tei", max_retries=0)
    strict = reranker_for(fake, "tei", max_retries=0, policy=RerankPolicy(50, "error"))
    try:
        fake.failures = [500]
        kept = await rerank(lenient, QUERY, DOCUMENTS, str, 2)
        assert kept.items == DOCUMENTS[:2] and kept.checked() is kept
        assert kept.note is not None and kept.note.status == "failed"
        assert "HTTP 500" in (kept.note.error or "")

        fake.failures = [500]
        refused = await rerank(strict, QUERY, DOCUMENTS, str, 2)
        with pytest.raises(RerankFailed, match="HTTP 500"):
            refused.checked()

        done = await rerank(lenient, QUERY, DOCUMENTS, str, 2)
        assert done.items == [DOCUMENTS[1], DOCUMENTS[0]]
        assert done.fused_ranks == [1, 0] and done.scores == [3.0, 1.0]
        assert done.note is not None and done.note.status == "reranked"
    finally:
        await lenient.close()
        await strict.close()


def test_no_reranker_unless_a_url_is_set() -> None:
    assert reranker_from(settings_from({})) is None


def test_settings_are_read_from_the_environment_and_the_kind_guessed_for_known_hosts() -> None:
    settings = settings_from(
        {
            "ENGRAM_RERANKER_URL": "https://api.cohere.com",
            "ENGRAM_RERANKER_MODEL": "rerank-v3.5",
            "ENGRAM_RERANKER_API_KEY": "key",
            "ENGRAM_RERANK_CANDIDATES": "30",
            "ENGRAM_RERANKER_ON_FAILURE": "error",
        }
    )
    reranker = reranker_from(settings)
    assert reranker is not None
    assert reranker.name == "cohere:rerank-v3.5"
    assert reranker.policy == RerankPolicy(30, "error")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ENGRAM_RERANKER_URL": "http://127.0.0.1:9"}, "ENGRAM_RERANKER_KIND"),
        ({"ENGRAM_RERANKER_KIND": "tei"}, "ENGRAM_RERANKER_URL"),
        ({"ENGRAM_RERANKER_URL": "http://x", "ENGRAM_RERANKER_KIND": "bing"}, "reranker_kind"),
        ({"ENGRAM_RERANK_CANDIDATES": "0"}, "rerank_candidates"),
        ({"ENGRAM_RERANKER_ON_FAILURE": "ignore"}, "reranker_on_failure"),
    ],
)
def test_incomplete_or_wrong_settings_stop_the_server_naming_the_setting(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ValidationError, match=named):
        settings_from(env)
