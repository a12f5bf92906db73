"""record_math: worked arithmetic on the loop's own record (the reasoner's `math`). The values are
re-derived here by other means (PEFT on the tiny model, the cron parser, the judge's balancer, the
suite files, brute force), every equation of every answer is evaluated, and every number an
answer states must come from its prompt or from an equation before it."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from services.harvester.base import Context, Skips
from services.harvester.core import harvest
from services.harvester.generators.record_math import PROBLEMS, RecordMath, problems, steps_text
from services.harvester.plan import ChampionFacts, DecisionFacts, HarvestPlan, LoopRecord, config_record
from services.harvester.star import same_value, stated_result
from services.judge.balance import target_mix
from services.judge.config import JudgeConfig
from services.judge.dedup import deduplicate
from shared.cron import Cron
from shared.specialists import profile

from .conftest import RepoBuilder

# The shape of SmolLM2-135M's config.json (the shipped default base model), as a temp file.
SMOL = {"model_type": "llama", "num_hidden_layers": 30, "hidden_size": 576, "num_attention_heads": 9,
        "num_key_value_heads": 3, "head_dim": 64, "intermediate_size": 1536, "vocab_size": 49152,
        "max_position_embeddings": 8192, "tie_word_embeddings": True}


@pytest.fixture
def smol_dir(tmp_path: Path) -> Path:
    (tmp_path / "config.json").write_text(json.dumps(SMOL))
    return tmp_path


def drafts(record: LoopRecord, specialist: str = "reasoner") -> tuple[list, Skips]:
    ctx = Context(plan=HarvestPlan(specialist=specialist, sessions=Path("."), record=record), skips=Skips())
    return list(RecordMath().run(ctx)), ctx.skips


def by_shape(record: LoopRecord) -> dict[str, object]:
    return {p.shape: p for p in problems(record)}


# ------------------------------------------------------------------ checking a worked answer

_RUN = re.compile(r"(?:cos|[0-9.\s×÷+\-−()⌈⌉⌊⌋π=≈])+")
_NUM = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")
UNIT_CONSTANTS = {0.0, 1.0, 2.0, 7.0, 24.0, 100.0, 1024.0, 1048576.0, 86400.0}  # K and V, days, hours, %, MiB


def _eval(expr: str) -> float:
    py = (expr.replace("×", "*").replace("÷", "/").replace("−", "-").replace("⌈", "math.ceil(")
          .replace("⌉", ")").replace("⌊", "math.floor(").replace("⌋", ")").replace("π", "math.pi")
          .replace("cos(", "math.cos("))
    return float(eval(py, {"math": math}))  # noqa: S307 - our own arithmetic text, digits and operators only


def _balanced(text: str) -> str:
    text = text.strip().rstrip(".").strip()
    while text.count("(") > text.count(")") and text.startswith("("):
        text = text[1:].strip()
    while text.count(")") > text.count("(") and text.endswith(")"):
        text = text[:-1].strip()
    return text


def equations(line: str) -> list[tuple[list[str], list[str]]]:
    """(parts, the sign before each part) of every `expr = value (≈ value)` chain in a line."""
    out = []
    for m in _RUN.finditer(line):
        run = m.group(0)
        if "=" not in run and "≈" not in run:
            continue
        pieces = re.split(r"(=|≈)", run)
        parts, signs = [_balanced(pieces[0])], [""]
        for i in range(1, len(pieces), 2):
            parts.append(_balanced(pieces[i + 1]))
            signs.append(pieces[i])
        if all(re.search(r"\d", p) for p in parts) and len(parts) >= 2:
            out.append((parts, signs))
    return out


def numbers(text: str) -> set[float]:
    return {float(x) for x in _NUM.findall(text)}


def check_worked(prompt: str, answer: str) -> int:
    """Every equation holds; every number used is the prompt's, a unit constant, or derived before."""
    known = numbers(prompt) | UNIT_CONSTANTS
    checked = 0
    for raw in answer.splitlines():
        line = re.sub(r"^\d+\.\s", "", raw)
        for parts, signs in equations(line):
            first = _eval(parts[0])
            assert numbers(parts[0]) <= known, f"{parts[0]!r} uses a number from nowhere: {answer}"
            for part, sign in zip(parts[1:], signs[1:], strict=True):
                value = _eval(part)
                if sign == "≈" and re.fullmatch(r"-?\d+(?:\.\d+)?", part):
                    digits = len(part.split(".")[1]) if "." in part else 0
                    assert abs(first - value) <= 0.5 * 10 ** -digits + 1e-12, f"{parts} in {line!r}"
                else:
                    assert abs(first - value) <= 1e-9 * max(1.0, abs(first)), f"{parts} in {line!r}"
                known |= numbers(part)
            checked += 1
    stated = numbers(re.sub(r"(?m)^\d+\.\s", "", answer))
    assert stated <= known, f"{sorted(stated - known)} in the answer come from nowhere: {answer}"
    return checked


# ------------------------------------------------------------------ the tests


def test_every_answer_is_worked_right_from_numbers_its_prompt_shows(smol_dir: Path, tiny_model_dir: Path) -> None:
    for model_dir in (smol_dir, tiny_model_dir):
        record = config_record("reasoner", "base", model_dir)
        got, _ = drafts(record)
        plain = [d for d in got if d.format == "chat"]
        assert len(plain) >= 30
        for d in plain:
            assert check_worked(d.prompt, d.answer) >= 1, d.answer  # at least one checked equation each
            # the final line, what STaR verifies, and the value computed are the same
            assert d.answer.splitlines()[-1] == f"Answer: {d.expected}"
            assert same_value(stated_result(d.answer), d.expected)
        # each plain draft has a think twin: the same steps as its rationale, the same final answer
        think = {d.source: d for d in got if d.format == "think"}
        for d in plain:
            twin = think[d.source]
            assert twin.prompt == d.prompt and twin.thought and twin.thought in d.answer
            assert twin.answer.endswith(f"Answer: {d.expected}")


def test_adapter_and_model_sizes_match_peft_and_torch_on_the_tiny_model(tiny_model_dir: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    record = config_record("reasoner", "tiny", tiny_model_dir)
    shapes = by_shape(record)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    assert shapes["base_params"].value == sum(p.numel() for p in model.parameters())
    lora_r = dict(record.training)["lora_r"]
    peft_model = get_peft_model(model, LoraConfig(r=lora_r, lora_alpha=dict(record.training)["lora_alpha"],
                                                  target_modules="all-linear"))
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    assert shapes["lora_all"].value == trainable


def test_loop_values_match_the_cron_parser_the_balancer_and_the_suite(smol_dir: Path) -> None:
    record = config_record("reasoner", "base", smol_dir)
    shapes = by_shape(record)
    cadence = dict(record.cadence)
    # harvests in a week, counted by the loop's own cron parser
    cron, t, end, n = Cron.parse(cadence["harvest"]), datetime(2026, 1, 4, tzinfo=UTC), None, 0
    end = t + timedelta(days=7)
    while (t := cron.next(t)) is not None and t <= end:
        n += 1
    assert shapes["harvests_week"].value == n == 21
    # first harvest after a weekly training
    train = Cron.parse(cadence["train"]).next(datetime(2026, 1, 1, tzinfo=UTC))
    assert shapes["first_after_training"].value == (cron.next(train) - train).total_seconds() / 3600
    # a category's count in a balanced dataset, from the judge's own target mix
    mix = target_mix(profile("reasoner"), [c for c, _ in record.categories])
    assert shapes["mix_count"].value == round(1200 * mix["math"])
    # the suite's share, from the suite files themselves
    suite = profile("reasoner").suite_dir
    sizes = {p.stem: sum(1 for ln in p.read_text().splitlines() if ln.strip()) for p in suite.glob("*.jsonl")}
    assert shapes["suite_share"].value == round(100 * max(sizes.values()) / sum(sizes.values()), 2)
    # the promotion bar, by trying 0, 1, 2, ... more right answers with exact fractions
    promo = dict(record.promotion)
    n_cat = max(n for _, n, _ in record.suite)
    k = len(record.suite)
    need = next(x for x in range(n_cat + 1)
                if Fraction(x, n_cat) / k >= Fraction(str(promo["min_over_base"])))
    assert shapes["promotion_prompts"].value == need
    # optimizer steps: batches of 4 over min_new_examples, times the epochs
    assert shapes["optimizer_steps"].value == math.ceil(cadence["min_new_examples"] / 4) * dict(record.training)[
        "epochs"]
    # the key/value cache of one full-context sequence (bf16), and how many fit in 1 GiB
    per_seq = 2 * SMOL["num_hidden_layers"] * SMOL["num_key_value_heads"] * SMOL["head_dim"] * 2 * 8192
    assert shapes["kv_cache_fit"].value == (1 << 30) // per_seq


def test_the_questions_are_distinct_and_survive_the_judges_near_duplicate_filter(
        smol_dir: Path, repo_builder: RepoBuilder) -> None:
    got, _ = drafts(config_record("reasoner", "base", smol_dir))
    plain = [d for d in got if d.format == "chat"]
    assert len({d.prompt for d in plain}) == len(plain) >= 30
    assert len({d.source for d in plain}) == len(plain)  # one question per shape
    repo_builder.commit("init", {"README.md": "# x\n"})
    plan = HarvestPlan(specialist="reasoner", repo=repo_builder.root,
                       record=config_record("reasoner", "base", smol_dir))
    examples = [e for e in harvest(plan, sources=(RecordMath(),)).examples if e.format == "chat"]
    assert {e.category for e in examples} == {"math"} and len(examples) == len(plain)
    cfg = JudgeConfig()
    kept, dropped = deduplicate(examples, None, num_perm=cfg.num_perm, shingle_size=cfg.shingle_size,
                                threshold=cfg.dedup_threshold)
    assert not dropped and len(kept) == len(plain)


def test_champion_decision_and_corpus_questions_use_those_numbers(smol_dir: Path) -> None:
    base = config_record("reasoner", "base", smol_dir)
    record = replace(
        base,
        champion=ChampionFacts("ckpt-b", 0.4125, (("math", 0.5), ("reasoning", 0.375)), "2026-03-01T00:00:00Z"),
        history=(ChampionFacts("ckpt-a", 0.33, (("math", 0.3), ("reasoning", 0.36)), "2026-02-01T00:00:00Z"),),
        last_decision=DecisionFacts("ckpt-c", False, 0.3, ("below the bar",)),
        corpus=(("live", 1234), ("retired", 266)),
    )
    shapes = by_shape(record)
    assert shapes["champion_gain"].value == round((0.4125 - 0.33) / 0.33 * 100, 2)
    assert shapes["category_gain"].value == 0.2  # math 0.3 -> 0.5 beats reasoning 0.36 -> 0.375
    assert shapes["decision_gap"].value == round((0.4125 - 0.3) / 0.4125 * 100, 2)
    assert shapes["corpus_retired"].value == round(266 / 1500 * 100, 2)
    assert shapes["corpus_steps"].value == math.ceil(1234 / 4) * 2
    got, _ = drafts(record)
    for d in got:
        if d.format == "chat":
            check_worked(d.prompt, d.answer)
    assert len([d for d in got if d.format == "chat"]) == len(PROBLEMS)  # every shape asked


def test_a_record_without_the_facts_asks_nothing_and_counts_why(smol_dir: Path) -> None:
    bare = LoopRecord(specialist="reasoner", base_model="base", categories=(("math", None),))
    got, skips = drafts(bare)
    assert got == [] and skips.counts["record_math:not_in_record"] == len(PROBLEMS)
    # no config.json: no model question, the loop's own questions stay
    no_card = config_record("reasoner", "base", None)
    asked = {p.shape for p in problems(no_card)}
    assert "lora_all" not in asked and "kv_width" not in asked and "harvests_week" in asked
    # another specialist's record would state its numbers as this one's; no record at all: nothing
    got, skips = drafts(config_record("coder", "base", smol_dir), specialist="reasoner")
    assert got == [] and skips.counts["record_math:record_of_another_specialist"] == 1
    ctx = Context(plan=HarvestPlan(specialist="reasoner", sessions=Path(".")), skips=Skips())
    assert list(RecordMath().run(ctx)) == [] and ctx.skips.counts["record_math:no_record"] == 1


def test_only_the_reasoner_maps_it_to_math(smol_dir: Path, repo_builder: RepoBuilder) -> None:
    repo_builder.commit("init", {"README.md": "# x\n"})
    plan = HarvestPlan(specialist="coder", repo=repo_builder.root, record=config_record("coder", "b", smol_dir))
    result = harvest(plan, sources=(RecordMath(),))
    assert result.examples == [] and result.skipped["record_math:not_for_coder"] >= 30
    assert steps_text(problems(plan.record)[0]).startswith("1. ")
