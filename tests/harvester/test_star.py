"""STaR: the champion's answers to verifiable prompts are kept only when they reach the executed
truth, first by sampling, then once with the answer as a hint; bounded and counted.

The champion is asked over HTTP through the local OpenAI-compatible server
(services/evaluator/local_server.py). No model that can trace Python runs on this CPU machine, so
the server's backend is a named stand-in (`ChampionStandIn`) that knows some answers, follows a
hint for others, and gets the rest wrong, which is what the test needs to see each outcome."""

from __future__ import annotations

import re
import socket
from collections import Counter

import pytest

from services.evaluator.local_server import serve
from services.harvester.base import Draft
from services.harvester.core import harvest
from services.harvester.plan import HarvestPlan, StarConfig, build_plan
from services.harvester.settings import HarvesterSettings
from services.harvester.star import same_value, star, stated_result
from shared.chat_client import ChatEndpoint
from tests.harvester.conftest import RepoBuilder


class ChampionStandIn:
    """Stand-in for the champion behind the router/vLLM: knows `known` answers, follows hints for
    the prompts in `teachable`, and answers `0` otherwise."""

    def __init__(self, known: dict[str, str], teachable: set[str] | None = None) -> None:
        self.known, self.teachable, self.requests = known, teachable, []

    def generate(self, prompts: list[list[dict]], max_new_tokens: int) -> list[str]:
        out = []
        for chat in prompts:
            self.requests.append(chat)
            text = chat[-1]["content"]
            hint = re.search(r"\(Hint: the correct result is `(.+?)`\.", text)
            key = text.split("\n\n(Hint:")[0]
            if key in self.known:
                out.append(f"Step 1: evaluate.\nAnswer: {self.known[key]}")
            elif hint and (self.teachable is None or key in self.teachable):
                out.append(f"Step 1: the loop adds each item.\nAnswer: {hint.group(1)}")
            else:
                out.append("Step 1: guess.\nAnswer: 0")
        return out


def _draft(prompt: str, expected: str | None) -> Draft:
    return Draft(generator="exec_reasoning", task="exec_trace", source="m.py", path="m.py",
                 messages=(("user", prompt), ("assistant", f"... So it returns `{expected}`.")), expected=expected)


@pytest.fixture
def champion():
    servers = []

    def start(backend: ChampionStandIn) -> ChatEndpoint:
        server = serve(backend, model_name="coder")  # type: ignore[arg-type]
        servers.append(server)
        return ChatEndpoint(url=f"http://127.0.0.1:{server.server_address[1]}", model="coder")

    yield start
    for s in servers:
        s.shutdown()


def test_kept_only_when_verified_and_each_outcome_counted(champion) -> None:  # noqa: ANN001
    a, b, c = _draft("What does `f(1)` return?", "3"), _draft("What does `g(2)` return?", "[1, 2]"), \
        _draft("What does `h(3)` return?", "'x'")
    plain = _draft("Explain `k`.", None)
    backend = ChampionStandIn(known={a.prompt: "3"}, teachable={b.prompt})
    outcomes: Counter[str] = Counter()
    kept = star([plain, a, b, c], StarConfig(endpoint=champion(backend), k=2, rate_per_s=0), outcomes)

    assert outcomes == Counter({"star:solved": 1, "star:rationalized": 1, "star:unsolved": 1})
    assert [d.prompt for d in kept] == [a.prompt, b.prompt]
    for d in kept:
        assert d.generator == "star" and "Hint" not in d.prompt  # kept under the original prompt
        assert d.messages[-1][1].startswith("Step 1") and d.path == "m.py"
    assert kept[0].source.startswith("star:solved:coder<-exec_reasoning")
    assert kept[1].source.startswith("star:rationalized:")
    # a: solved at the first sample; b and c: k samples, then one hinted try; the unverifiable draft: never asked
    assert len(backend.requests) == 1 + 3 + 3
    assert not any(r[-1]["content"].startswith("Explain") for r in backend.requests)


def test_bounded_per_harvest(champion) -> None:  # noqa: ANN001
    drafts = [_draft(f"What does `f({i})` return?", str(i)) for i in range(10)]
    backend = ChampionStandIn(known={d.prompt: d.expected or "" for d in drafts})
    outcomes: Counter[str] = Counter()
    kept = star(drafts, StarConfig(endpoint=champion(backend), budget=4, rate_per_s=0), outcomes)
    assert len(kept) == 4 and len(backend.requests) == 4 and outcomes["star:solved"] == 4


def test_a_champion_that_is_down_is_counted_and_not_asked_forever() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcomes: Counter[str] = Counter()
    drafts = [_draft(f"What does `f({i})` return?", str(i)) for i in range(5)]
    kept = star(drafts, StarConfig(endpoint=ChatEndpoint(url=f"http://127.0.0.1:{port}", model="x", timeout_s=2),
                                   rate_per_s=0), outcomes)
    assert kept == [] and outcomes == Counter({"star:error": 3, "star:unavailable": 5})


def test_the_answer_is_read_from_the_conclusion() -> None:
    assert stated_result("a\nb\nAnswer: `[1, 2]`.") == "[1, 2]"
    assert stated_result("So `f(2)` returns `'ab'` (a `str`).") == "'ab'"
    assert stated_result("I think it is 3") is None
    assert same_value("('a', 1)", '("a", 1)') and not same_value("3.0", "3") and not same_value(None, "3")


def test_through_a_harvest_on_executed_functions(champion, repo_builder: RepoBuilder) -> None:  # noqa: ANN001
    repo_builder.commit("Add totals", {"totals.py": (
        "def running_total(items: list[int]) -> int:\n    total = 0\n    for x in items:\n"
        "        total += x\n    return total\n")})
    backend = ChampionStandIn(known={})  # follows every hint: each verified answer is a rationalization
    plan = HarvestPlan(specialist="reasoner", repo=repo_builder.root, docs=False, fim_share=0.0,
                       star=StarConfig(endpoint=champion(backend), k=1, rate_per_s=0))
    result = harvest(plan)
    mine = [e for e in result.examples if e.generator == "star"]
    traced = [e for e in result.examples if e.generator == "exec_reasoning" and e.format == "chat"]
    if not traced:
        pytest.skip(f"no traced calls here (the sandbox may be unavailable): {result.skipped}")
    assert mine and result.outcomes.get("star:rationalized") == len(mine)
    # the reasoner files a traced sum as worked arithmetic (exec_trace/arithmetic: math)
    assert all(e.category in ("reasoning", "math") and e.provenance.path == "totals.py" for e in mine)


def test_off_by_default_and_the_model_names_the_specialist(monkeypatch: pytest.MonkeyPatch) -> None:
    assert build_plan("coder", HarvesterSettings())[0].star is None
    monkeypatch.setenv("OURO_HARVESTER_STAR_URL", "http://router:8080")
    config = build_plan("coder", HarvesterSettings())[0].star
    assert config is not None and config.endpoint.model == "coder"
