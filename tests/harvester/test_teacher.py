"""The optional teacher: an OpenAI-compatible endpoint writes answers for a bounded number of
harvested prompts. Tested over HTTP against the local OpenAI-compatible server
(services/evaluator/local_server.py) and against an endpoint that is down. A strong teacher model
cannot run here, so the server's backend is a named stand-in (`TeacherStandIn`): it answers from
the evidence the request carries, which lets the test see what the teacher was sent."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from services.evaluator.local_server import serve
from services.harvester.base import Draft
from services.harvester.core import harvest
from services.harvester.plan import HarvestPlan, TeacherConfig, build_plan
from services.harvester.settings import HarvesterSettings
from services.harvester.teacher import _request
from shared.chat_client import ChatEndpoint
from tests.harvester.conftest import PARSER_V1, PARSER_V2, RepoBuilder


@pytest.fixture
def repo(repo_builder: RepoBuilder) -> Path:
    repo_builder.commit("Add the config parser", {"parser.py": PARSER_V1})
    repo_builder.commit("Keep the last character of values\n\nThe slice dropped it.", {"parser.py": PARSER_V2})
    return repo_builder.root


class TeacherStandIn:
    """Stand-in for a teacher model behind vLLM (none runs on this CPU machine): it writes an answer
    from the evidence in the request, and keeps every request it got."""

    def __init__(self) -> None:
        self.requests: list[list[dict]] = []

    def generate(self, prompts: list[list[dict]], max_new_tokens: int) -> list[str]:
        self.requests.extend(prompts)
        return [f"A reviewer would check this change carefully. {p[-1]['content'].rsplit(chr(10), 1)[-1]}"
                for p in prompts]


@pytest.fixture
def stand_in():
    backend = TeacherStandIn()
    server = serve(backend, model_name="local")  # type: ignore[arg-type]
    server.teacher = backend  # type: ignore[attr-defined]
    yield server
    server.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_teacher_answers_are_new_drafts_with_their_origin_within_the_budget(repo: Path, stand_in) -> None:  # noqa: ANN001
    plain = harvest(HarvestPlan(specialist="coder", repo=repo, docs=False, fim_share=0.0))
    url = f"http://127.0.0.1:{stand_in.server_address[1]}"
    teacher = TeacherConfig(endpoint=ChatEndpoint(url=url, model="local"), budget=3, rate_per_s=0)
    taught = harvest(HarvestPlan(specialist="coder", repo=repo, docs=False, fim_share=0.0, teacher=teacher))

    assert len(stand_in.teacher.requests) == 3  # the budget, spread over tasks
    assert len({r[-1]["content"] for r in stand_in.teacher.requests}) == 3
    mine = [e for e in taught.examples if e.generator == "teacher"]
    assert 1 <= len(mine) <= 3
    for e in mine:
        # it names the model and the draft it improved, and keeps that draft's provenance (it retires with it)
        assert e.provenance.source.startswith("teacher:local<-")
        origin = e.provenance.source.split("<-", 1)[1].split(":", 1)[0]
        assert origin in plain.by_generator
        # the prompt is the one the teacher was asked (with the mined answer as evidence); the answer is its reply
        prompt = next(m.content for m in reversed(e.messages) if m.role == "user")
        assert any(r[-1]["content"].startswith(prompt) and "evidence" in r[-1]["content"]
                   for r in stand_in.teacher.requests)
        assert e.messages[-1].content.startswith("A reviewer would check this change carefully.")
    # the originals are all still there
    assert {e.id for e in plain.examples} <= {e.id for e in taught.examples}


def test_a_teacher_that_is_down_is_counted_and_the_harvest_goes_on(repo: Path) -> None:
    teacher = TeacherConfig(endpoint=ChatEndpoint(url=f"http://127.0.0.1:{_free_port()}", model="t", timeout_s=2),
                            budget=10, rate_per_s=0)
    result = harvest(HarvestPlan(specialist="coder", repo=repo, docs=False, fim_share=0.0, teacher=teacher))
    assert result.examples and not any(e.generator == "teacher" for e in result.examples)
    assert result.skipped.get("teacher:error") == 3  # three in a row: the endpoint is down
    assert result.skipped.get("teacher:unavailable", 0) >= 1


def test_the_request_carries_the_conversation_and_the_mined_answer_as_evidence() -> None:
    d = Draft(generator="git_diffs", task="diff_review", source="commit abc",
              messages=(("system", "be brief"), ("user", "Review this diff: -a +b"), ("assistant", "Renames a to b.")))
    request = _request(d)
    assert request[0]["role"] == "system" and "only facts that the conversation shows" in request[0]["content"]
    assert [m["role"] for m in request] == ["system", "user"]  # the draft's own system turn is replaced
    assert request[1]["content"].startswith("Review this diff: -a +b")
    assert "Renames a to b." in request[1]["content"] and "evidence" in request[1]["content"]


def test_off_by_default_and_configured_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_plan("coder", HarvesterSettings())[0].teacher is None
    monkeypatch.setenv("OURO_HARVESTER_TEACHER_URL", "http://teacher:8000")
    monkeypatch.setenv("OURO_HARVESTER_TEACHER_API_KEY", "sk-test-123")
    monkeypatch.setenv("OURO_HARVESTER_TEACHER_BUDGET", "7")
    teacher = build_plan("coder", HarvesterSettings())[0].teacher
    assert teacher is not None and teacher.budget == 7 and teacher.endpoint.api_key == "sk-test-123"
    assert "sk-test-123" not in repr(teacher)  # the key never reaches a log line


def test_what_is_sent_to_the_teacher_is_scrubbed_and_executed_answers_are_not_rewritten() -> None:
    from services.harvester.star import _ask
    from services.harvester.teacher import _pick

    key = "AKIA" + "IOSFODNN7EXAMPLE"
    d = Draft(generator="git_diffs", task="diff_review", source="commit abc",
              messages=(("user", f"Review this diff:\n+AWS_ACCESS_KEY_ID={key}"), ("assistant", f"Adds {key}.")))
    sent = json.dumps(_request(d))
    assert key not in sent and "<SECRET>" in sent
    traced = Draft(generator="exec_reasoning", task="exec_trace", source="m.py", expected="3",
                   messages=(("user", f"What does `f({key!r})` return?"), ("assistant", "3")))
    assert key not in json.dumps(_ask(traced, None))  # STaR's requests too
    config = TeacherConfig(endpoint=ChatEndpoint(url="http://x", model="t"))
    assert _pick([d, traced], config) == [d]
