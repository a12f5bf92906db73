"""The unsupported-fact filter on examples shaped like what the harvester produced: a bot commit's
message as the answer to its diff drops; a review written from the diff stays."""

from __future__ import annotations

import pytest

from services.judge.config import JudgeConfig
from services.judge.core import build_filters
from services.judge.filters.unsupported import UnsupportedFactFilter
from shared.events import ChatMessage, Example, Provenance

BUMP_DIFF = """Write a commit message for this diff:

```diff
diff --git a/requirements/tests.txt b/requirements/tests.txt
index 3b18e51..a4c2f9d 100644
--- a/requirements/tests.txt
+++ b/requirements/tests.txt
@@ -1,3 +1,3 @@
-pytest==8.3.3
+pytest==8.3.4
 coverage==7.6.1
```"""

PARSER_DIFF = """Review this commit: what does it change, why, and what should a reviewer check?

The author's message:
> Fix off-by-one in parse_line

```diff
diff --git a/pkg/parser.py b/pkg/parser.py
index 90ad25d..48943b1 100644
--- a/pkg/parser.py
+++ b/pkg/parser.py
@@ -9,4 +9,4 @@ def parse_line(line: str) -> tuple[str, str]:
-    return key.strip(), value[:-1].strip()
+    return key.strip(), value.strip()
```"""


def ex(prompt: str, answer: str, **kw) -> Example:
    return Example.build(specialist="orchestrator", category="code_review", generator="git_diffs",
                         messages=[("user", prompt), ("assistant", answer)], provenance=Provenance(source="t"), **kw)


@pytest.mark.parametrize(
    ("prompt", "answer", "reason"),
    [
        # what a dependabot commit taught: a version, a PR number and a SHA the diff does not show
        (BUMP_DIFF, "Bump pytest from 8.3.3 to 8.3.5 in the tests group", "unsupported_fact:version"),
        (BUMP_DIFF, "Bump pytest from 8.3.3 to 8.3.4 (#2291)", "unsupported_fact:issue"),
        (BUMP_DIFF, "Bump pytest; see dependabot/dependabot-core@7be3f1c for the changelog",
         "unsupported_fact:sha"),
        (PARSER_DIFF, "The slice in pkg/parser.py dropped the last character; tests/test_parser.py covers it.",
         "unsupported_fact:path"),
        (PARSER_DIFF, "Same bug as the one fixed in setup.cfg.", "unsupported_fact:path"),
        # kept: every fact is in the prompt
        (BUMP_DIFF, "Bump pytest from 8.3.3 to 8.3.4", None),
        (BUMP_DIFF, "Bump pytest to v8.3.4 in requirements/tests.txt (index 3b18e51..a4c2f9d)", None),
        (PARSER_DIFF, "What changed: `pkg/parser.py` (+1/-1): in `parse_line`, `value[:-1]` becomes `value`. "
                      "Risk: no test reproduces the failure; a ratio of 0.5 or Python 3.11 is no version claim.",
         None),
        (PARSER_DIFF, "A new helper goes in a new file:\n```python\n# pkg/strip_util.py\ndef strip(v): ...\n```",
         None),  # written code may name a new file
    ],
)
def test_facts_checked_against_the_prompt(prompt: str, answer: str, reason: str | None) -> None:
    assert UnsupportedFactFilter().filter(ex(prompt, answer)).reason == reason


def test_architecture_answers_restating_a_module_as_its_file_are_kept() -> None:
    prompt = "What calls `services.evaluator.scorers.last_number`? Which call sites would a change affect?"
    answer = ("The function `last_number` (services/evaluator/scorers.py, line 101) is called from 2 place(s):\n"
              "- `services.evaluator.scorers.numeric` (services/evaluator/scorers.py, line 111)\n"
              "- `tests.evaluator.test_scorers.test_numeric` (tests/evaluator/test_scorers.py, line 40)")
    assert UnsupportedFactFilter().filter(ex(prompt, answer)).keep
    pkg = "`services.judge` (services/judge/__init__.py) imports 6 project module(s)"
    assert UnsupportedFactFilter().filter(ex("Which project modules does `services.judge` depend on?", pkg)).keep


def test_multi_turn_answer_may_repeat_a_tool_result() -> None:
    msgs = [ChatMessage(role="user", content="Which version of nats-server do we run?"),
            ChatMessage(role="assistant", content="Checking the lock of the install script."),
            ChatMessage(role="tool", content="deploy/install.sh: NATS_VERSION=2.10.22"),
            ChatMessage(role="assistant", content="nats-server 2.10.22, pinned in deploy/install.sh.")]
    e = Example.build(specialist="orchestrator", category="orchestration", generator="sessions", messages=msgs,
                      provenance=Provenance(source="t"))
    assert UnsupportedFactFilter().filter(e).keep
    invented = e.model_copy(update={"messages": (*msgs[:2], msgs[3])})  # the tool result is gone
    assert UnsupportedFactFilter().filter(invented).reason == "unsupported_fact:version"


def test_wired_into_the_judge(tokenizer_dir) -> None:
    names = [f.name for f in build_filters(JudgeConfig(coherence=False), "orchestrator", tokenizer_dir)]
    assert "unsupported_fact" in names


def test_docs_recall_may_name_files_and_releases_but_not_shas_or_issues() -> None:
    def docs(answer: str) -> Example:
        return Example.build(specialist="coder", category="instruction", generator="docs",
                             messages=[("user", "Explain Signing Interface in docs/signer.rst."),
                                       ("assistant", answer)],
                             provenance=Provenance(source="docs/signer.rst"))

    f = UnsupportedFactFilter()
    # what the project's documentation says is knowledge to learn
    assert f.filter(docs("Added in version 2.0.0: the `Signer` in src/itsdangerous/signer.py signs bytes.")).reason \
        is None
    # a commit or an issue no reader of the project could know is still an invention
    assert f.filter(docs("Changed in 2.0 (#212).")).reason == "unsupported_fact:issue"
    assert f.filter(docs("See commit 7be3f1c4 for the change.")).reason == "unsupported_fact:sha"


def test_an_address_in_code_is_not_a_version() -> None:
    answer = 'Bind it to all interfaces:\n```python\nserve(host="0.0.0.0", port=8080)  # or 127.0.0.1\n```'
    assert UnsupportedFactFilter().filter(ex(PARSER_DIFF, answer)).reason is None
    assert UnsupportedFactFilter().filter(ex(PARSER_DIFF, "Upgrade to 10.2.3.")).reason == "unsupported_fact:version"
