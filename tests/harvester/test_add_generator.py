"""The recipe "add a generator" (docs/architecture.md), followed step by step: a generator class,
its entry in core.SOURCES, its task in categories.TASKS, the task mapped in a specialist file.
Its drafts then become scrubbed, categorised examples like any other generator's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.harvester import categories, core
from services.harvester.base import Context, Draft
from services.harvester.core import harvest
from services.harvester.plan import HarvestPlan
from shared.specialists import SpecialistConfigError, load_specialists
from shared.suites import SUITES_DIR
from tests.support.specialists import use_specialists

from .conftest import RepoBuilder

FAQ = "Q: How do I restart the worker?\nA: Run `make restart`; it drains the queue first, then restarts the worker."


class Faq:
    """Step 1: a generator: reads the plan's inputs, yields drafts with a task name."""

    name = "faq"

    def run(self, ctx: Context) -> Iterator[Draft]:
        path = Path(ctx.plan.repo or ".") / "FAQ.txt"
        if not path.exists():
            ctx.skips.add(self.name, "no_faq")
            return
        q, a = path.read_text().split("\nA: ")
        messages = (("user", q.removeprefix("Q: ")), ("assistant", a))
        yield Draft(generator=self.name, task="faq_answer", messages=messages, source="FAQ.txt", path="FAQ.txt")


SPEC = """
specialists:
  support:
    suite: {suite}
    categories: {{answers: null, architecture: null}}
    tasks: {{faq_answer: answers, explain_doc: architecture}}
"""


def test_a_new_generator_feeds_the_category_its_task_is_mapped_to(
    repo_builder: RepoBuilder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo_builder.commit("docs: faq", {"FAQ.txt": FAQ + " Contact ops@example.com if it fails."})
    path = tmp_path / "specialists.yaml"
    path.write_text(SPEC.format(suite=SUITES_DIR / "orchestrator"))

    # Without step 3 the specialist file is refused at start: no generator makes `faq_answer`.
    with pytest.raises(SpecialistConfigError, match="no generator produces task 'faq_answer'"):
        categories.check_tasks(load_specialists(path))

    monkeypatch.setattr(core, "SOURCES", (*core.SOURCES, Faq))  # step 2
    monkeypatch.setitem(categories.TASKS, "faq_answer", "faq")  # step 3
    with use_specialists(monkeypatch, path):  # step 4
        categories.check_tasks()
        result = harvest(HarvestPlan(specialist="support", repo=repo_builder.root, docs=False))
    faq = [e for e in result.examples if e.generator == "faq"]
    assert len(faq) == 1 and faq[0].category == "answers" and faq[0].specialist == "support"
    assert "ops@example.com" not in faq[0].response  # scrubbed by the core, like every generator's text
    assert result.by_generator["faq"] == 1
