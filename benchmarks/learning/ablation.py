"""The ablation: the same base, the same number of training steps, one ingredient changed per arm,
each arm scored on the same held-out prompts and compared paired (shared/stats.py).

Run offline with the services' own cores (harvest → judge → corpus snapshot → train → evaluate),
not through the bus: the ingredients are switched off here, which the loop itself never does.

    stage 1 = everything mined at the first replayed commit; stage 2 = at the last one
    filtered   stage 1, judged (filters, dedup, decontamination, balance)     from the base
    raw        stage 1, the harvest as mined (decontaminated only)            from the base
    continue   stage 2 corpus snapshot (new first + replay)                   from `filtered`'s adapter
    retrain    the same snapshot                                              from the base
    no_replay  stage 2's new examples only                                    from `filtered`'s adapter
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shared.events import Example

ARMS = ("filtered", "raw", "continue", "retrain", "no_replay")
# (arm, against): the paired comparisons the ablation reports, beside every arm against the base
COMPARISONS = (("filtered", "raw"), ("continue", "retrain"), ("continue", "no_replay"))


@dataclass
class ArmData:
    name: str
    dataset: Path
    rows: int
    init: str | None  # the arm whose adapter it continues; None: a fresh adapter on the base
    what: str


def harvest_at(clone: Path, head: str, specialist: str, sessions: Path | None, tokenizer_dir: Path) -> list[Example]:
    """A full harvest (no watermark) of the clone checked out at `head`, with the service's settings."""
    from services.harvester.core import harvest
    from services.harvester.plan import build_plan
    from services.harvester.settings import HarvesterSettings

    subprocess.run(["git", "reset", "--quiet", "--hard", head], cwd=clone, check=True)
    plan, _ = build_plan(specialist, HarvesterSettings(), repo=clone, sessions=sessions, tokenizer_dir=tokenizer_dir)
    return list(harvest(plan).examples)


def write_rows(examples: list[Example], out: Path) -> Path:
    """A dataset directory the trainer reads (`data/`, a `messages` column), like the judge's."""
    from datasets import Dataset

    rows = {"id": [e.id for e in examples], "category": [e.category for e in examples],
            "messages": [[m.model_dump() for m in e.messages] for e in examples]}
    Dataset.from_dict(rows).save_to_disk(str(out / "data"))
    return out


def build_arms(work: Path, clone: Path, heads: tuple[str, str], specialist: str, sessions: Path | None,
               base_dir: Path, log: Callable[[str], None]) -> tuple[list[ArmData], dict[str, object]]:
    from services.judge.core import judge
    from services.judge.corpus import Corpus, snapshot
    from services.judge.decontaminate import decontaminate, load_index
    from services.judge.settings import JudgeSettings
    from shared.specialists import profile

    config = JudgeSettings().judge_config()
    started = time.monotonic()
    mined1 = harvest_at(clone, heads[0], specialist, sessions, base_dir)
    mined2 = harvest_at(clone, heads[1], specialist, sessions, base_dir)
    log(f"ablation: harvested {len(mined1)} examples at {heads[0][:12]}, {len(mined2)} at {heads[1][:12]} "
        f"({time.monotonic() - started:.0f} s)")
    started = time.monotonic()
    kept1 = judge(mined1, specialist=specialist, config=config, tokenizer_dir=base_dir).examples
    kept2 = judge(mined2, specialist=specialist, config=config, tokenizer_dir=base_dir).examples
    log(f"ablation: judge kept {len(kept1)} and {len(kept2)} ({time.monotonic() - started:.0f} s)")
    index = load_index(suites=config.suite_dirs(), extra=config.extra_benchmark_files,
                       builtin=config.builtin_benchmarks, n=config.decontam_ngram,
                       fallback=config.decontam_fallback_ngram, cache_dir=config.cache_dir)
    raw, dirty = decontaminate(mined1, index, overlap=config.decontam_overlap)
    now = datetime.now(UTC)
    corpus = Corpus(specialist=specialist).add(kept1, cycle_id="stage-1", now=now).mark_trained()
    corpus = corpus.add(kept2, cycle_id="stage-2", now=now)
    prof = profile(specialist)

    def snap(c: Corpus) -> list[Example]:
        return snapshot(c, prof, cap=config.per_category_cap, max_examples=config.max_examples,
                        generator_weights=config.generator_weights).examples

    replay = snap(corpus)
    new = [e.example for e in corpus.new_since_training()]
    only_new = snap(Corpus(specialist=specialist).add(new, cycle_id="stage-2", now=now)) if new else []
    arms = [
        ArmData("filtered", write_rows(kept1, work / "filtered"), len(kept1), None,
                "stage 1 judged: filters, dedup, decontamination, balance"),
        ArmData("raw", write_rows(raw, work / "raw"), len(raw), None,
                f"stage 1 as mined, decontaminated only ({len(dirty)} removed): no filters, dedup or balance"),
        ArmData("continue", write_rows(replay, work / "continue"), len(replay), "filtered",
                "stage 2 corpus snapshot (new first + replay), continuing `filtered`'s adapter"),
        ArmData("retrain", write_rows(replay, work / "retrain"), len(replay), None,
                "the same stage 2 snapshot, a fresh adapter on the base"),
    ]
    if only_new:
        arms.append(ArmData("no_replay", write_rows(only_new, work / "no_replay"), len(only_new), "filtered",
                            "stage 2's new examples only, continuing `filtered`'s adapter"))
    meta = {"stage_heads": [h[:12] for h in heads], "mined": [len(mined1), len(mined2)],
            "judged": [len(kept1), len(kept2)], "raw_decontaminated_away": len(dirty),
            "stage2_new": len(new), "stage2_snapshot": len(replay)}
    return arms, meta
