"""The offline cores behind `ouro harvest | judge | train | eval`: the same functions the services
call, on local files, with no bus. Useful to debug one stage, and what the stage tests call."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from ouro.client import CliError
from shared.settings import CommonSettings
from shared.specialists import specialists


def _base_dir() -> Path:
    from shared.models import resolve_base_model

    settings = CommonSettings()
    return resolve_base_model(settings.base_model, settings.data_dir)


def _external(spec: str):  # noqa: ANN202 - the type lives in a lazily imported module
    from services.harvester.settings import External

    path, _, category = spec.rpartition(":")
    if not path or not category:
        raise SystemExit(f"ouro harvest: --external {spec!r} must be PATH:CATEGORY")
    return External(path=Path(path), category=category)


def cmd_harvest(args: argparse.Namespace) -> int:
    from services.harvester.core import HarvestError, harvest
    from services.harvester.plan import build_plan
    from services.harvester.settings import HarvesterSettings

    # The service's settings (OURO_HARVESTER_*), overridden by the flags given: one set of defaults.
    overrides: dict[str, object] = {}
    if args.max_commits is not None:
        overrides["max_commits"] = args.max_commits
    if args.tool_specs:
        overrides["tool_specs"] = [Path(p) for p in args.tool_specs]
    if args.external:
        overrides["external"] = [_external(x) for x in args.external]
    settings = HarvesterSettings().model_copy(update=overrides)
    from services.harvester.core import validate
    from services.harvester.plan import HarvestPlan

    try:  # the inputs first: a wrong path is said in milliseconds, not after converting the base model
        validate(HarvestPlan(specialist=args.specialist, repo=Path(args.repo) if args.repo else None,
                             sessions=Path(args.sessions) if args.sessions else None,
                             tool_specs=tuple(Path(p) for p in args.tool_specs)))
    except HarvestError as err:
        raise CliError(str(err)) from None
    plan, why = build_plan(args.specialist, settings, repo=args.repo,
                           sessions=Path(args.sessions) if args.sessions else None, tokenizer_dir=_base_dir())
    if why:
        print(f"ouro harvest: {why}", file=sys.stderr)
    try:
        result = harvest(plan)
    except HarvestError as err:
        print(f"ouro harvest: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as f:
        for e in result.examples:
            f.write(e.model_dump_json() + "\n")
    summary = {"examples": len(result.examples), "by_generator": result.by_generator, "skipped": result.skipped,
               "scrubbed": result.scrubbed, "head_commit": result.head_commit, "outcomes": result.outcomes}
    if args.report or args.rate:
        _quality(args, result.examples, summary)
    print(json.dumps(summary))
    return 0


def _quality(args: argparse.Namespace, examples: list, summary: dict) -> None:
    """--report: per generator and category, count, kept by the judge and three samples (stderr);
    --rate N: a stratified sample of N rated by the judge-model endpoint on the rubric."""
    from ouro.data_quality import format_report, rate, report, shares, stratified
    from services.judge.core import judge
    from services.judge.settings import JudgeSettings
    from shared.chat_client import ChatEndpoint

    kept: set[str] = set()
    if examples:
        ds = judge(examples, specialist=args.specialist, config=JudgeSettings().judge_config(),
                   tokenizer_dir=_base_dir())
        kept = {e.id for e in ds.examples}
    rows = report(examples, kept)
    summary["report"] = [{k: v for k, v in r.items() if k != "samples"} for r in rows]
    if args.report:
        print(format_report(rows), file=sys.stderr)
    if args.rate:
        if not args.rate_url:
            raise CliError("--rate needs the judge-model endpoint: --rate-url URL or OURO_EVALUATOR_JUDGE_URL")
        sample = stratified(examples, args.rate)
        ratings = rate(sample, ChatEndpoint(url=args.rate_url, model=args.rate_model, timeout_s=120))
        summary["rating"] = shares(ratings)


def cmd_judge(args: argparse.Namespace) -> int:
    from services.judge.core import judge_file
    from services.judge.settings import JudgeSettings

    config = JudgeSettings().judge_config()
    if args.no_coherence:
        config = config.model_copy(update={"coherence": False})
    try:
        summary = judge_file(Path(args.input), Path(args.out), specialist=args.specialist, config=config,
                             tokenizer_dir=_base_dir(), history=Path(args.history) if args.history else None)
    except FileNotFoundError as err:
        print(f"ouro judge: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from services.trainer.config import train_config
    from services.trainer.settings import TrainerSettings
    from services.trainer.train import train_adapter

    dataset = Path(args.dataset)
    if not (dataset / "data").is_dir():
        what = "does not exist" if not dataset.exists() else "is not a judged dataset (no data/ inside)"
        raise CliError(f"--dataset {dataset} {what}; make one with `ouro judge --in EXAMPLES --out DIR`")
    settings = TrainerSettings()
    if args.max_steps is not None:
        settings = settings.model_copy(update={"max_steps": args.max_steps})
    metrics = train_adapter(Path(args.dataset), _base_dir(), Path(args.out), train_config(args.specialist, settings))
    print(metrics.model_dump_json())
    return 0


def _eval_backend(args: argparse.Namespace, adapter: str | None):  # noqa: ANN202 - a lazily imported type
    from services.evaluator.backends import OpenAIBackend, TransformersBackend

    if args.endpoint:
        return OpenAIBackend(args.endpoint, model=adapter or args.model)
    return TransformersBackend(_base_dir(), Path(adapter) if adapter else None)


def _check_adapter(flag: str, path: str) -> None:
    if not (Path(path) / "adapter_config.json").is_file():
        what = "does not exist" if not Path(path).exists() else "is not a PEFT adapter (no adapter_config.json)"
        raise CliError(f"{flag} {path} {what}")


def _intervals(result, confidence: float) -> dict:  # noqa: ANN001 - a SuiteResult
    from shared.stats import interval

    per = {c: interval([r.score for r in result.items if r.category == c and r.scored], confidence)
           for c in result.categories}
    return {c: iv.model_dump() for c, iv in per.items()}


def cmd_eval(args: argparse.Namespace) -> int:
    """Score one model on a suite: per category the mean with its bootstrap interval and n. With
    --against (`base` or an adapter), both models answer the same prompts and the paired
    difference (interval, sign-test p) is printed too; with --general, also on the general
    held-out set: the forgetting figures the promoter's gate reads."""
    from services.evaluator.evaluate import evaluate
    from services.evaluator.service import judge_backend, paired_stats
    from services.evaluator.settings import EvaluatorSettings
    from services.evaluator.suites import load_suite
    from services.evaluator.verdict_cache import VerdictCache
    from shared.suites import SuiteError

    if args.adapter:
        _check_adapter("--adapter", args.adapter)
    if args.against and args.against != "base" and not args.endpoint:
        _check_adapter("--against", args.against)
    try:
        suites = [load_suite(args.suite)] + ([load_suite(args.general)] if args.general else [])
    except SuiteError as err:
        raise CliError(str(err)) from None
    settings = EvaluatorSettings()
    cache = VerdictCache(CommonSettings().data_dir / "judge" / "verdicts.sqlite")
    judge = None
    if any(i.scorer.type == "llm_judge" for i in suites[0].items):
        from services.evaluator.backends import OpenAIBackend
        from services.evaluator.verdict_cache import CachedJudge

        judge = (CachedJudge(OpenAIBackend(args.endpoint, model=args.model), f"{args.model}@{args.endpoint}", cache)
                 if args.endpoint and not settings.judge_url else judge_backend(settings, None if args.endpoint
                                                                                else _base_dir(), cache))
    model = _eval_backend(args, None if args.base else args.adapter)
    reference = None
    if args.against:
        reference = _eval_backend(args, None if args.against == "base" else args.against)
    out: dict = {}
    for k, suite in enumerate(suites):
        result = evaluate(model, suite, max_new_tokens=args.max_new_tokens, judge=judge)
        row: dict = {"suite": result.suite, "suite_version": result.version, "overall": result.overall,
                     "categories": _intervals(result, settings.confidence), "unscored": result.unscored,
                     "duration_s": result.duration_s}
        if reference is not None:
            ref = evaluate(reference, suite, max_new_tokens=args.max_new_tokens, judge=judge)
            pairwise = None
            if judge is not None and k == 0:
                from services.evaluator.pairwise import judge_pairs

                pairwise = judge_pairs(judge, suite, result, ref)
                for reason, n in pairwise.unscored.items():
                    row["unscored"][reason] = row["unscored"].get(reason, 0) + n
            stats = paired_stats(result, ref, settings.confidence, pairwise)
            row["against"] = {"model": args.against, "overall": ref.overall,
                              "categories": _intervals(ref, settings.confidence)}
            row["paired"] = {"confidence": stats.confidence, "overall": stats.overall.model_dump(),
                             "categories": {c: p.model_dump() for c, p in stats.paired.items()}}
        out["general" if k else "suite"] = row
    if reference is not None and args.general:
        general = out["general"]["paired"]["overall"]
        out["forgetting"] = {"reference": args.against, "general_diff": general["diff"],
                             "ci_low": general["ci_low"], "ci_high": general["ci_high"], "n": general["n"]}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for row in out.values():
        if "suite" not in row:
            continue
        print(f"{row['suite']} (version {row['suite_version'][:12]}): overall {row['overall']:.3f}"
              + (f" vs {row['against']['model']} {row['against']['overall']:.3f}" if "against" in row else ""))
        for c, iv in row["categories"].items():
            line = f"  {c:<28} {iv['mean']:.3f}  [{iv['ci_low']:.3f}, {iv['ci_high']:.3f}]  n={iv['n']}"
            if "paired" in row and c in row["paired"]["categories"]:
                p = row["paired"]["categories"][c]
                line += f"  diff {p['diff']:+.3f} [{p['ci_low']:+.3f}, {p['ci_high']:+.3f}] p={p['p_two_sided']:.3g}"
            print(line)
        if "paired" in row:
            o = row["paired"]["overall"]
            print(f"  paired overall difference {o['diff']:+.3f} [{o['ci_low']:+.3f}, {o['ci_high']:+.3f}] "
                  f"n={o['n']} p={o['p_two_sided']:.3g}")
        if row["unscored"]:
            print(f"  unscored: {row['unscored']}")
    return 0


def add_parsers(sub: argparse._SubParsersAction, run: Callable[[argparse.Namespace], int]) -> None:
    names = list(specialists().names)

    sp = sub.add_parser("harvest", help="offline: mine a repo and sessions into examples (JSONL)")
    sp.add_argument("--repo")
    sp.add_argument("--sessions")
    sp.add_argument("--specialist", choices=names, default="orchestrator")
    sp.add_argument("--max-commits", type=int, help="default: OURO_HARVESTER_MAX_COMMITS (500)")
    sp.add_argument("--tool-specs", action="append", default=[], help="MCP tools/list or OpenAI function JSON")
    sp.add_argument("--external", action="append", default=[], help="PATH:CATEGORY, a local instruction dataset")
    sp.add_argument("--out", required=True)
    sp.add_argument("--report", action="store_true",
                    help="judge the harvest too and print, per generator and category, count, kept and 3 samples")
    sp.add_argument("--rate", type=int, default=0, metavar="N",
                    help="rate a stratified sample of N with the judge model on the rubric (ouro/data_quality.py)")
    sp.add_argument("--rate-url", default=os.environ.get("OURO_EVALUATOR_JUDGE_URL", ""),
                    help="the judge model's OpenAI-compatible endpoint (env OURO_EVALUATOR_JUDGE_URL)")
    sp.add_argument("--rate-model", default=os.environ.get("OURO_EVALUATOR_JUDGE_MODEL", "default"),
                    help="the model name it serves (env OURO_EVALUATOR_JUDGE_MODEL)")
    sp.set_defaults(func=run, core=cmd_harvest)

    sp = sub.add_parser("judge", help="offline: judge examples (JSONL) into a versioned dataset directory")
    sp.add_argument("--in", dest="input", required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--specialist", choices=names, default="orchestrator")
    sp.add_argument("--no-coherence", action="store_true", help="skip the embedding-based coherence filter")
    sp.add_argument("--history", help="dedup history file (.npz): earlier datasets' examples are dropped; updated")
    sp.set_defaults(func=run, core=cmd_judge)

    sp = sub.add_parser("train", help="offline: train a LoRA adapter on a judged dataset")
    sp.add_argument("--dataset", required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--specialist", choices=names, default="orchestrator")
    sp.add_argument("--max-steps", type=int)
    sp.set_defaults(func=run, core=cmd_train)

    sp = sub.add_parser("eval", help="offline: score an adapter (or the bare base model) on a suite")
    group = sp.add_mutually_exclusive_group(required=True)
    group.add_argument("--adapter")
    group.add_argument("--base", action="store_true")
    group.add_argument("--endpoint", help="an OpenAI-compatible server (vLLM) instead of in-process transformers")
    sp.add_argument("--model", default="default", help="model name at --endpoint")
    sp.add_argument("--suite", default="orchestrator")
    sp.add_argument("--max-new-tokens", type=int, default=96)
    sp.add_argument("--against", metavar="base|ADAPTER",
                    help="compare with this model on the same prompts: paired difference, interval and p-value")
    sp.add_argument("--general", nargs="?", const="general", metavar="SUITE",
                    help="also run the general held-out set (default suite: general); with --against: the "
                         "forgetting figures")
    sp.add_argument("--json", action="store_true",
                    help="print per category {mean, ci_low, ci_high, n}, the paired comparison and unscored counts")
    sp.set_defaults(func=run, core=cmd_eval)


def run(args: argparse.Namespace) -> int:
    return args.core(args)

