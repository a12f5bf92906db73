from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from services.judge.decontaminate import BENCHMARKS_DIR, decontaminate, load_index
from shared.suites import SuiteError
from tests.judge.conftest import make

SUITE_PROMPT = (
    "A user asks the orchestrator to rename a function across three repositories and open one pull "
    "request per repository. Which tools do you call, and in what order?"
)


def _suites(tmp_path: Path) -> Path:
    (tmp_path / "suites" / "orchestrator").mkdir(parents=True)
    row = {"id": "tool_use-03", "category": "tool_use", "messages": [{"role": "user", "content": SUITE_PROMPT}],
           "reference": "search, then edit, then open_pull_request for each repository",
           "scorer": {"type": "contains", "strings": ["search"]}}
    (tmp_path / "suites" / "orchestrator" / "suite.jsonl").write_text(json.dumps(row) + "\n")
    return tmp_path / "suites" / "orchestrator"


def test_copies_of_a_suite_prompt_and_gsm8k_are_removed(tmp_path: Path, cache_dir: Path) -> None:
    question = json.loads((BENCHMARKS_DIR / "gsm8k_test.jsonl").read_text().splitlines()[123])["question"]
    index = load_index(suites=[_suites(tmp_path)], cache_dir=cache_dir)
    suite_copy = make("I would call search first, then edit each file.", prompt=SUITE_PROMPT)
    gsm_copy = make("Let me work it out step by step. The answer is 18.", prompt=question, category="reasoning")
    normal = make()
    clean, dirty = decontaminate([suite_copy, gsm_copy, normal], index)
    assert clean == [normal]
    assert [(e.id, item) for e, item in dirty] == [
        (suite_copy.id, "suite:orchestrator/tool_use-03"), (gsm_copy.id, "gsm8k:123"),
    ]


def test_index_is_cached_and_no_suites_is_fine(tmp_path: Path, cache_dir: Path) -> None:
    load_index(suites=(), cache_dir=cache_dir)
    assert list(cache_dir.glob("decontam-*.npz"))
    start = time.perf_counter()
    load_index(suites=(), cache_dir=cache_dir)
    assert time.perf_counter() - start < 0.5


def test_a_missing_suite_is_an_error_not_a_silent_skip(tmp_path: Path, cache_dir: Path) -> None:
    with pytest.raises(SuiteError, match="absent"):
        load_index(suites=[tmp_path / "absent"], cache_dir=cache_dir)


def test_expected_answers_of_a_suite_are_indexed_too(tmp_path: Path, cache_dir: Path) -> None:
    # The prompt is short, but the scorer's expected tool call is long enough to be memorised.
    root = tmp_path / "s"
    root.mkdir()
    args = {"query": "the rollback procedure for the orchestrator adapter after a failed promotion in staging"}
    row = {"id": "t-1", "category": "tool_use", "messages": [{"role": "user", "content": "Search."}],
           "scorer": {"type": "json_tool_call", "name": "search_docs", "arguments": args}}
    (root / "tool_use.jsonl").write_text(json.dumps(row) + "\n")
    index = load_index(suites=[root], cache_dir=cache_dir)
    leak = make(json.dumps({"name": "search_docs", "arguments": args}, sort_keys=True), prompt="Find the docs.")
    _, dirty = decontaminate([leak], index)
    assert [item for _, item in dirty] == ["suite:s/t-1"]


def test_a_copied_question_is_caught_despite_a_long_shared_system_prompt(cache_dir: Path) -> None:
    from shared.suites import SUITES_DIR, load_suite

    suite = load_suite("orchestrator")
    item = next(i for i in suite.items if i.messages[0].role == "system" and len(i.messages[0].content.split()) > 30
                and len(i.messages[-1].content.split()) >= 15)
    index = load_index(suites=[SUITES_DIR / "orchestrator"], builtin=False, cache_dir=cache_dir)
    answer = ("They sound exhausted and angry after repeated failures, so acknowledge that first, then say what "
              "you will check: the last run's log, the step where it stopped, the memory it used and whether the "
              "data changed since the previous good run, and offer to pause the schedule until it is fixed.")
    copy = make(answer, prompt=item.messages[-1].content)
    _, dirty = decontaminate([copy], index)
    assert [hit for _, hit in dirty] == [f"suite:orchestrator/{item.id}"]
