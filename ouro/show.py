"""`ouro show CHECKPOINT`: what a checkpoint scored, why the gate decided as it did, and what
the two models actually answered.

    ouro show 3f2a9c            # a checkpoint id or a unique prefix of one
    ouro show 3f2a9c --json

Everything comes from what the services recorded: the registry's checkpoint record and the
evaluator's and promoter's markers (`done.eval.<id>`, `done.decision.<id>`), the eval report
artifact (per-prompt outputs and scores of both models) and the suite the prompts came from.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from shared.bus import Bus
from shared.events import EvalCompleted
from shared.registry import REGISTRY_BUCKET, Registry
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore

SAMPLES = 5


async def resolve_checkpoint(registry: Registry, ref: str) -> str:
    """A full checkpoint id, or the one id that starts with `ref`; LookupError names what is wrong."""
    if await registry.checkpoint(ref) is not None:
        return ref
    try:
        keys = await registry.kv.keys()
    except Exception:  # noqa: BLE001 - nats-py raises NoKeysError on an empty bucket
        keys = []
    found = sorted(k.removeprefix("checkpoint.") for k in keys if k.startswith(f"checkpoint.{ref}"))
    if not found:
        raise LookupError(f"no checkpoint {ref!r} in the registry (`ouro runs` lists them)")
    if len(found) > 1:
        raise LookupError(f"checkpoint prefix {ref!r} is ambiguous: {', '.join(f[:12] for f in found)}")
    return found[0]


def categories(ev: EvalCompleted) -> list[dict[str, object]]:
    """Per category: both means, the paired difference with its interval, and n."""
    rows = []
    for cat in sorted(ev.candidate):
        row: dict[str, object] = {"category": cat, "candidate": ev.candidate[cat], "champion": ev.champion.get(cat),
                                  "delta": None, "ci_low": None, "ci_high": None, "n": None}
        paired = ev.stats.paired.get(cat) if ev.stats else None
        if paired is not None:
            row.update(delta=paired.diff, ci_low=paired.ci_low, ci_high=paired.ci_high, n=paired.n)
        rows.append(row)
    return rows


def samples(report: dict, suite_prompts: dict[str, str], k: int = SAMPLES) -> list[dict[str, object]]:  # noqa: ANN001
    """`k` prompts, one per category in turn, with both models' answers and scores; the prompts
    where the two models differ come first, since they are the ones that moved the score."""
    theirs = {i["id"]: i for i in report["champion"]["items"]}
    items = [i for i in report["candidate"]["items"] if i["id"] in theirs]
    items.sort(key=lambda i: (i["score"] == theirs[i["id"]]["score"], i["id"]))
    picked, seen = [], set()
    for pass_ in (0, 1):  # first one per category, then fill up
        for i in items:
            if len(picked) == k:
                break
            if i in picked or (pass_ == 0 and i["category"] in seen):
                continue
            seen.add(i["category"])
            picked.append(i)
    return [{"id": i["id"], "category": i["category"],
             "prompt": suite_prompts.get(i["id"], "(prompt not in the suite)"),
             "candidate": i["output"], "candidate_score": i["score"],
             "champion": theirs[i["id"]]["output"], "champion_score": theirs[i["id"]]["score"]} for i in picked]


def _suite_prompts(name: str) -> dict[str, str]:
    from shared.suites import SuiteError, load_suite

    try:
        suite = load_suite(name)
    except SuiteError:
        return {}
    return {item.id: item.messages[-1].content for item in suite.items}


async def show(bus: Bus, ref: str) -> dict[str, object]:
    from ouro.lineage import lineage

    registry = Registry(await bus.kv(REGISTRY_BUCKET))
    checkpoint_id = await resolve_checkpoint(registry, ref)
    record = await registry.checkpoint(checkpoint_id)
    assert record is not None  # resolve_checkpoint found it
    out: dict[str, object] = {
        "checkpoint_id": checkpoint_id, "specialist": record.specialist, "parent": record.parent or "base model",
        "train": record.metrics.model_dump(mode="json"), "evaluation": None, "decision": None, "samples": [],
    }
    raw = await registry.marked("eval", checkpoint_id)
    if raw:
        ev = EvalCompleted.model_validate_json(raw)
        out["evaluation"] = {
            "suite": ev.suite, "prompts": ev.prompts, "champion_id": ev.champion_id or "base model",
            "candidate_overall": ev.candidate_overall, "champion_overall": ev.champion_overall,
            "overall": ev.stats.overall.model_dump() if ev.stats else None,
            "confidence": ev.stats.confidence if ev.stats else None,
            "categories": categories(ev), "unscored": ev.unscored,
            "report": ev.report.name if ev.report else None,
        }
        if ev.report is not None:
            store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
            with tempfile.TemporaryDirectory() as tmp:
                path = await store.get_file(ev.report, Path(tmp) / "report.json")
                report = json.loads(path.read_text())
            out["samples"] = samples(report, _suite_prompts(ev.suite))
    decision = await registry.decision(checkpoint_id)
    if decision is not None:
        out["decision"] = {"decision": "promoted" if decision.__class__.__name__ == "ModelPromoted" else "rejected",
                           "reasons": list(decision.reasons), "cycle_id": decision.cycle_id}
    try:
        info = await lineage(bus, checkpoint_id)
        out["lineage"] = {k: info[k] for k in ("dataset_id", "corpus_version", "examples", "by_generator",
                                               "by_category", "commits", "sessions", "cycles") if k in info}
    except Exception as err:  # noqa: BLE001 - the rest of the page is still worth showing
        out["lineage"] = {"error": str(err)}
    return out


def _f(x: object, fmt: str = ".3f") -> str:
    return "-" if x is None else format(x, fmt)


def _clip(text: str, width: int = 160) -> str:
    one = " ".join(str(text).split())
    return one if len(one) <= width else one[: width - 1] + "…"


def show_text(out: dict) -> str:  # noqa: ANN001 - the dict show() builds
    t = out["train"]
    lines = [f"checkpoint {out['checkpoint_id']} ({out['specialist']}), continued from {out['parent']}",
             f"trained: {t['steps']} steps on {t['examples']} examples, loss {_f(t.get('first_loss'))} → "
             f"{_f(t['train_loss'])}, {t['duration_s']:.0f} s on {t['device']}"]
    ev = out["evaluation"]
    if ev is None:
        lines.append("not evaluated yet")
    else:
        o = ev["overall"]
        conf = f"{100 * ev['confidence']:.0f}% " if ev["confidence"] else ""
        lines += ["", f"suite {ev['suite']} ({ev['prompts']} prompts); champion: {ev['champion_id']}",
                  f"{'category':<24} {'candidate':>9} {'champion':>9} {'delta':>7} {'n':>4}  {conf}interval of delta"]
        for c in ev["categories"]:
            interval = f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]" if c["ci_low"] is not None else "-"
            lines.append(f"{c['category']:<24} {_f(c['candidate']):>9} {_f(c['champion']):>9} "
                         f"{_f(c['delta'], '+.3f'):>7} {_f(c['n'], 'd'):>4}  {interval}")
        delta = f"{o['diff']:+.3f}" if o else "-"
        interval = f"[{o['ci_low']:+.3f}, {o['ci_high']:+.3f}]" if o else "-"
        lines.append(f"{'OVERALL':<24} {ev['candidate_overall']:>9.3f} {ev['champion_overall']:>9.3f} {delta:>7} "
                     f"{_f(o['n'] if o else None, 'd'):>4}  {interval}")
    d = out["decision"]
    lines += ["", f"decision: {d['decision'].upper()}" if d else "decision: none yet"]
    lines += [f"  - {r}" for r in (d["reasons"] if d else [])]
    if out["samples"]:
        lines += ["", f"{len(out['samples'])} sample prompts (candidate | champion):"]
        for s in out["samples"]:
            lines += [f"[{s['id']}] ({s['category']}) {_clip(s['prompt'])}",
                      f"    candidate ({s['candidate_score']:.2f}): {_clip(s['candidate']) or '(empty answer)'}",
                      f"    champion  ({s['champion_score']:.2f}): {_clip(s['champion']) or '(empty answer)'}"]
    lin = out.get("lineage", {})
    lines.append("")
    if "error" in lin:
        lines.append(f"lineage: {lin['error']}")
    else:
        lines.append(f"lineage: dataset {str(lin.get('dataset_id', '-'))[:12]}, "
                     f"corpus v{lin.get('corpus_version', '-')}, "
                     f"{lin.get('examples', '-')} examples from {len(lin.get('commits', []))} commits and "
                     f"{len(lin.get('sessions', []))} sessions; generators {lin.get('by_generator', {})}")
    return "\n".join(lines)
