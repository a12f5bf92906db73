"""The offline cores behind `ouro harvest | judge | train | eval`: the same functions the services
call, on local files, with no bus. Useful to debug one stage, and what the stage tests call."""

from __future__ import annotations

import argparse
import json
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
    print(json.dumps({"examples": len(result.examples), "by_generator": result.by_generator,
                      "skipped": result.skipped, "scrubbed": result.scrubbed, "head_commit": result.head_commit}))
    return 0


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


def cmd_eval(args: argparse.Namespace) -> int:
    from services.evaluator.backends import OpenAIBackend, TransformersBackend
    from services.evaluator.evaluate import evaluate
    from services.evaluator.suites import load_suite
    from shared.suites import SuiteError

    if args.adapter and not (Path(args.adapter) / "adapter_config.json").is_file():
        what = "does not exist" if not Path(args.adapter).exists() else "is not a PEFT adapter (no adapter_config.json)"
        raise CliError(f"--adapter {args.adapter} {what}")
    try:
        suite = load_suite(args.suite)
    except SuiteError as err:
        raise CliError(str(err)) from None
    if args.endpoint:
        backend = OpenAIBackend(args.endpoint, model=args.model)
    else:
        backend = TransformersBackend(_base_dir(), None if args.base else Path(args.adapter))
    result = evaluate(backend, suite, max_new_tokens=args.max_new_tokens)
    print(json.dumps({"suite": result.suite, "overall": result.overall, "categories": result.categories}))
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
    sp.set_defaults(func=run, core=cmd_eval)


def run(args: argparse.Namespace) -> int:
    return args.core(args)

