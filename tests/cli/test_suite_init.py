"""`ouro suite init` on a scratch repository: a readable suite about held-out files and the newest
commits, and, once the specialist file names it, none of its prompts reaches a training dataset."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from ouro.cli import main
from shared import specialists as specialists_module
from shared.suites import load_suite

# Every line names the function's own identifiers, so two functions share no long n-gram: what
# decontamination drops is what a held-out function's text really reaches, not the template.
FUNC = '''

def {name}({name}_values: list[int], {name}_limit: int) -> list[int]:
    """Keep the {word} members of {name}_values that stay below {name}_limit, in {name} order."""
    {name}_kept = [{name}_v for {name}_v in {name}_values if {name}_v < {name}_limit]
    {name}_kept = [{name}_v for {name}_v in {name}_kept if {name}_v % {mod} == {rem}]
    {name}_kept.sort(key=lambda {name}_v: {name}_values.index({name}_v))
    return {name}_kept
'''


def write_module(root: Path, module: str, names: list[tuple[str, str, int, int]]) -> Path:
    path = root / "pkg" / f"{module}.py"
    path.parent.mkdir(exist_ok=True)
    body = f'"""Filters of the {module} component."""\n' + "".join(
        FUNC.format(name=n, word=w, mod=m, rem=r) for n, w, m, r in names)
    path.write_text(body)
    return path


@pytest.fixture
def scratch_repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    repo = git.Repo.init(root)
    for i, module in enumerate(["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]):
        write_module(root, module, [(f"{module}_evens", "even", 2, 0), (f"{module}_odds", "odd", 2, 1),
                                    (f"{module}_thirds", "third", 3, i % 3)])
    repo.index.add([str(p) for p in (root / "pkg").glob("*.py")])
    repo.index.commit("first version of the filters")
    for module in ["golf", "hotel"]:
        repo.index.add([str(write_module(root, module, [(f"{module}_quarters", "quarter", 4, 1)]))])
        repo.index.commit(f"add the {module} quarter filter")
    return root


@pytest.fixture
def restore_env() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    specialists_module.reset()


def test_suite_init_writes_a_suite_whose_prompts_never_reach_a_dataset(
    scratch_repo: Path, tmp_path: Path, tiny_model_dir: Path, capsys, restore_env: None,
) -> None:
    from services.harvester.core import harvest
    from services.harvester.plan import build_plan
    from services.harvester.settings import HarvesterSettings
    from services.judge.config import JudgeConfig
    from services.judge.core import judge

    out = tmp_path / "suite"
    assert main(["suite", "init", "--repo", str(scratch_repo), "--out", str(out), "--specialist", "coder",
                 "--share", "0.3", "--commits", "2"]) == 0
    printed = capsys.readouterr().out
    assert f"OURO_SPECIALISTS={out / 'specialists.yaml'}" in printed
    suite = load_suite(out)
    assert set(suite.categories) == {"heldout_files", "recent_commits"}
    heldout = [line[2:] for line in (out / "HELDOUT.md").read_text().splitlines() if line.startswith("- pkg/")]
    assert len(heldout) == 3  # 30% of 8 files, rounded up
    # readable: one JSON item per line, the answer is an identifier the code shows
    first = json.loads((out / "recent_commits.jsonl").read_text().splitlines()[0])
    assert first["scorer"] == {"type": "contains", "strings": ["hotel_quarters"], "mode": "any"}
    assert "add the hotel quarter filter" in first["messages"][-1]["content"]

    settings = HarvesterSettings(tool_specs=[], docs=False, incremental=False)
    plan, _ = build_plan("coder", settings, repo=scratch_repo, tokenizer_dir=tiny_model_dir)
    examples = harvest(plan).examples
    config = JudgeConfig(coherence=False, builtin_benchmarks=False)

    # Without the suite, examples about the held-out functions do reach the dataset ...
    before = judge(examples, specialist="coder", config=config, tokenizer_dir=tiny_model_dir)
    names = {i.reference.split("(")[0].removeprefix("def ") for i in suite.items}
    leaked_before = [e for e in before.examples if any(n in e.prompt + e.response for n in names)]
    assert leaked_before, "the harvest must mine the held-out functions for this test to mean anything"
    # ... with the specialist file `suite init` wrote, none does.
    os.environ["OURO_SPECIALISTS"] = str(out / "specialists.yaml")
    specialists_module.reset()
    after = judge(examples, specialist="coder", config=config, tokenizer_dir=tiny_model_dir)
    leaked = [e for e in after.examples if any(n in e.prompt + e.response for n in names)]
    assert not leaked, [(e.provenance.path, e.prompt[:80]) for e in leaked]
    assert len(after.examples) > 0 and len(after.examples) < len(before.examples)  # the rest still trains
