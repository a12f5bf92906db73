"""`ouro`: run the loop, start a cycle, look at it, roll it back; and the offline cores.

    ouro run                        # embedded NATS + five services, one cycle, the decision
    ouro up                         # embedded NATS + five services in the foreground (Ctrl-C stops)
    ouro cycle --specialist orchestrator --repo . --sessions examples/sessions --wait
    ouro status | history | rollback --specialist coder [--to CHECKPOINT]
    ouro runs ; ouro show CHECKPOINT ; ouro artifacts list | get REF --out DIR
    ouro init ; ouro config ; ouro suite init --repo PATH
    ouro harvest --repo . --out ex.jsonl ; ouro judge --in ex.jsonl --out ds/
    ouro train --dataset ds/ --out adapter/ ; ouro eval --adapter adapter/ --suite orchestrator
    ouro hooks install REPO ; ouro emit session FILE ; ouro emit flush
    ouro export --specialist coder --format openai --out DIR ; ouro export --adapter CHECKPOINT --out DIR
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from pathlib import Path

from ouro.client import CliError, connect, loop_url
from shared.events import Event
from shared.models import offline
from shared.settings import CommonSettings
from shared.specialists import SpecialistConfigError, specialists


def _print_progress(elapsed: float, event: Event) -> None:
    from ouro.cycle import describe

    print(f"[{elapsed:7.1f}s] {describe(event)}", flush=True)


async def _cycle(args: argparse.Namespace, url: str) -> int:
    from ouro.client import connect
    from ouro.cycle import new_request, run_cycle, score_table, summary_line
    from shared.bus import Bus

    bus = await (Bus.connect(url, "ouro-cli", attempts=args.connect_attempts) if args.command == "run"
                 else connect(url))
    try:
        repo = str(Path(args.repo).resolve()) if args.repo else None
        sessions = str(Path(args.sessions).resolve()) if args.sessions else None
        request = new_request(args.specialist, repo, sessions)
        if not args.wait:
            await bus.publish(request)
            print(json.dumps({"cycle_id": request.cycle_id}))
            return 0
        print(f"cycle {request.cycle_id} for {args.specialist} started", flush=True)
        from ouro.progress import ProgressView, follow

        view = ProgressView(request.cycle_id)
        live = await follow(bus, view)  # the trainer's steps and the evaluator's prompts, as they go
        try:
            outcome = await run_cycle(bus, request, timeout=args.timeout, on_event=_print_progress,
                                      on_wait=lambda t, stage: print(f"[{t:7.1f}s] ... {stage}", flush=True))
        finally:
            await live.unsubscribe()
            view.close()
    finally:
        await bus.close()
    if outcome.categories:
        print(score_table(outcome))
    print(summary_line(outcome), flush=True)
    return 0 if outcome.decision in ("promoted", "rejected") else 1


def cmd_cycle(args: argparse.Namespace) -> int:
    from ouro.client import loop_url

    for name, value in (("--repo", args.repo), ("--sessions", args.sessions)):
        if value and not Path(value).exists():
            raise CliError(f"{name} {value} does not exist")
    return asyncio.run(_cycle(args, loop_url(args.nats_url)))


def _stack_env(args: argparse.Namespace) -> dict[str, str]:
    env: dict[str, str] = {}
    if getattr(args, "base_model", None):
        env["OURO_BASE_MODEL"] = args.base_model
    return env


def cmd_up(args: argparse.Namespace) -> int:
    from ouro.stack import Stack

    settings = CommonSettings()
    stack = Stack(settings.data_dir, env=_stack_env(args), port=args.port, tls=args.tls).start()
    print(f"nats at {stack.url}; services: {', '.join(stack.procs)}; logs in {stack.logs}. Ctrl-C stops.", flush=True)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    from ouro.client import clear_loop, record_loop
    from ouro.supervisor import Supervisor

    supervisor = Supervisor(stack)
    if args.metrics_port:
        from shared import metrics

        metrics.serve_metrics(args.metrics_port)  # the supervisor's restart counts
    record_loop(settings.data_dir, stack.url)  # client commands find this loop without --nats-url
    from ouro.live import LiveView

    view = LiveView(stack.url, stack.auth("operator")).start()  # every event and progress, as it happens
    try:
        # Exits only on Ctrl-C / SIGTERM: a service that dies is started again (with backoff);
        # its unacked work is redelivered to the new process.
        while not stopping:
            supervisor.tick()
            time.sleep(0.5)
    finally:
        view.stop()
        print("stopping services and nats-server...", flush=True)
        clear_loop(settings.data_dir)
        stack.stop()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """What `make run` does: the whole loop on this machine, one cycle, the decision, shut down.

    It starts from an empty bus (the converted base model is kept), so each run is one complete
    first cycle; `ouro up` + `ouro cycle` keep state across cycles.
    """
    import shutil

    from ouro.stack import Stack

    settings = CommonSettings()
    started = time.monotonic()
    shutil.rmtree(settings.data_dir / "nats", ignore_errors=True)
    if args.cycles > 1 and not args.repo:
        raise CliError("--cycles needs --repo: the cycles replay that repository's history")
    with Stack(settings.data_dir, env=_stack_env(args)) as stack:
        print(f"nats-server at {stack.url}; services {', '.join(stack.procs)}; logs in {stack.logs}", flush=True)
        rc = asyncio.run(_cycle(args, stack.url) if args.cycles == 1 else _cycles(args, stack.url))
        print("stopping services and nats-server...", flush=True)
    print(f"wall time {time.monotonic() - started:.0f} s", flush=True)
    return rc


async def _cycles(args: argparse.Namespace, url: str) -> int:
    import shutil

    from ouro.cycles import rows_json, run_cycles, scratch_clone, table
    from shared.bus import Bus

    scratch = CommonSettings().data_dir / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    heads = scratch_clone(Path(args.repo).resolve(), scratch, args.cycles, args.step)
    print(f"{args.cycles} cycles on a scratch clone at {scratch}, {args.step} commits apart", flush=True)
    bus = await Bus.connect(url, "ouro-cli", attempts=args.connect_attempts)
    try:
        sessions = str(Path(args.sessions).resolve()) if args.sessions else None
        rows = await run_cycles(bus, args.specialist, scratch, heads, sessions, timeout=args.timeout,
                                on_row=lambda r: print(f"cycle {r.cycle}: {r.decision}", flush=True))
    finally:
        await bus.close()
    print(table(rows))
    print(rows_json(rows), flush=True)
    return 0 if all(r.decision in ("promoted", "rejected") for r in rows) else 1


async def _status(url: str, as_json: bool = False) -> int:
    from shared.events import STREAM_NAME
    from shared.registry import REGISTRY_BUCKET, Registry

    bus = await connect(url)
    try:
        registry = Registry(await bus.kv(REGISTRY_BUCKET))
        out: dict[str, object] = {"champions": {}, "consumers": {}}
        from ouro.lineage import corpus_status

        out["corpus"] = {}
        for sp in specialists().names:
            champ, rev = await registry.champion(sp)
            out["champions"][sp] = (  # type: ignore[index]
                {"checkpoint_id": champ.checkpoint_id, "overall": champ.overall, "revision": rev,
                 "promoted_at": champ.promoted_at.isoformat(), "reason": champ.reason} if champ else None
            )
            out["corpus"][sp] = await corpus_status(bus, sp)  # type: ignore[index]
        for info in await bus.js.consumers_info(STREAM_NAME):
            if not info.config.durable_name:
                continue  # an ephemeral reader (a `cycle --wait` follower), not a service
            out["consumers"][info.name] = {  # type: ignore[index]
                "pending": info.num_pending, "in_flight": info.num_ack_pending, "redelivered": info.num_redelivered
            }
        stream = await bus.js.stream_info(STREAM_NAME)
        out["events"] = stream.state.messages
        from ouro.supervisor import read_restarts

        out["restarts"] = read_restarts(CommonSettings().data_dir)  # written by `ouro up`
        print(json.dumps(out, indent=2) if as_json else status_table(out))
    finally:
        await bus.close()
    return 0


def status_table(out: dict) -> str:  # noqa: ANN001 - the dict _status builds
    """`ouro status` for a person: one row per specialist, then the services."""
    rows = [f"{'specialist':<14} {'champion':<34} {'overall':>7}  {'corpus live/retired':>19} {'new':>5}  training"]
    for sp, champ in out["champions"].items():
        corpus = out["corpus"].get(sp, {})
        age = ""
        if champ:
            from datetime import datetime

            from shared.events import utcnow

            hours = (utcnow() - datetime.fromisoformat(champ["promoted_at"])).total_seconds() / 3600
            age = f", {hours:.0f} h" if hours < 48 else f", {hours / 24:.0f} d"
        who = f"{champ['checkpoint_id'][:16]} ({champ['reason']}{age})" if champ else "base model (no champion yet)"
        overall = f"{champ['overall']:.3f}" if champ else "-"
        training = corpus.get("training")
        nxt = corpus.get("next_training", {}).get("scheduled")
        doing = (f"cycle {training['cycle_id'][:8]}: {training['stage']}" if training
                 else f"idle; next scheduled {nxt[:16] if nxt else '-'}")
        if corpus.get("last_decision"):
            d = corpus["last_decision"]
            doing += f"; last: {d['decision']} {d['checkpoint_id'][:8]} at {d['at'][:16]}"
        if corpus.get("last_failed_cycle"):
            doing += f"; last failed: {corpus['last_failed_cycle']['cycle_id'][:8]}"
        rows.append(f"{sp:<14} {who:<34} {overall:>7}  {corpus.get('live', 0):>11}/{corpus.get('retired', 0):<7} "
                    f"{corpus.get('new_since_training', 0):>5}  {doing}")
    rows.append("")
    rows.append(f"{'service durable':<18} {'pending':>8} {'in flight':>10} {'redelivered':>12} {'restarts':>9}")
    restarts = {k: v.get("restarts", 0) for k, v in out.get("restarts", {}).items()}
    for name, c in sorted(out["consumers"].items()):
        service = name.split("-")[0]
        rows.append(f"{name:<18} {c['pending']:>8} {c['in_flight']:>10} {c['redelivered']:>12} "
                    f"{restarts.get(service, '-'):>9}")
    rows.append(f"\n{out['events']} events in the stream; `ouro status --json` for scripts")
    return "\n".join(rows)


def cmd_status(args: argparse.Namespace) -> int:
    return asyncio.run(_status(loop_url(args.nats_url), args.json))


async def _history(args: argparse.Namespace) -> int:
    from ouro.history import history

    bus = await connect(loop_url(args.nats_url))
    try:
        print(await history(bus, limit=args.limit, cycle=args.cycle, types=args.type, json_out=args.json))
    except (LookupError, ValueError) as err:
        raise CliError(str(err)) from None
    finally:
        await bus.close()
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    return asyncio.run(_history(args))


async def _runs(args: argparse.Namespace) -> int:
    from ouro.runs import list_runs, runs_json, runs_table

    bus = await connect(loop_url(args.nats_url))
    try:
        runs = await list_runs(bus, args.specialist, args.limit)
    finally:
        await bus.close()
    if args.json:
        print(runs_json(runs))
    elif not runs:
        print("no runs yet: no cycle has trained (`ouro cycle --wait` starts one)")
    else:
        print(runs_table(runs))
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    return asyncio.run(_runs(args))


async def _show(args: argparse.Namespace) -> int:
    from ouro.show import show, show_text

    bus = await connect(loop_url(args.nats_url))
    try:
        out = await show(bus, args.checkpoint)
    except LookupError as err:
        raise CliError(str(err)) from None
    finally:
        await bus.close()
    print(json.dumps(out, indent=2) if args.json else show_text(out))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    return asyncio.run(_show(args))


async def _artifacts(args: argparse.Namespace) -> int:
    from ouro import artifacts

    bus = await connect(loop_url(args.nats_url))
    try:
        if args.action == "list":
            for name, size in await artifacts.list_artifacts(bus, args.prefix):
                print(f"{size:>12}  {name}")
            return 0
        got = await artifacts.get(bus, args.ref, Path(args.out))
    except LookupError as err:
        raise CliError(str(err)) from None
    finally:
        await bus.close()
    for what, path in got.items():
        print(f"{what}: {path}")
    return 0


def cmd_artifacts(args: argparse.Namespace) -> int:
    if args.action == "get" and not (args.ref and args.out):
        raise CliError("artifacts get needs REF and --out DIR (`ouro artifacts list` shows the names)")
    return asyncio.run(_artifacts(args))


async def _rollback(url: str, specialist: str, to: str | None) -> int:
    from shared.registry import REGISTRY_BUCKET, Registry

    bus = await connect(url)
    try:
        record = await Registry(await bus.kv(REGISTRY_BUCKET)).rollback(specialist, to)
        print(json.dumps({"specialist": specialist, "champion": record.checkpoint_id, "overall": record.overall}))
    except LookupError as err:
        print(f"ouro rollback: {err}", file=sys.stderr)
        return 2
    finally:
        await bus.close()
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    return asyncio.run(_rollback(loop_url(args.nats_url), args.specialist, args.to))


async def _lineage(url: str, checkpoint_id: str, as_json: bool) -> int:
    from ouro.lineage import lineage

    bus = await connect(url)
    try:
        info = await lineage(bus, checkpoint_id)
    except LookupError as err:
        print(f"ouro lineage: {err}", file=sys.stderr)
        return 2
    finally:
        await bus.close()
    if as_json:
        print(json.dumps(info, sort_keys=True))
    else:
        for key, value in info.items():
            print(f"{key:>16}: {value}")
    return 0


def cmd_lineage(args: argparse.Namespace) -> int:
    return asyncio.run(_lineage(loop_url(args.nats_url), args.checkpoint, args.json))


def cmd_config(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ouro.config import SOURCE, config_table, effective

    settings = effective()
    if args.json:
        print(json.dumps({"file": str(SOURCE[0]) if SOURCE else None, "settings": [asdict(s) for s in settings]},
                         indent=2))
    else:
        print(config_table(settings))
    return 0


def cmd_suite(args: argparse.Namespace) -> int:
    from ouro.suite_init import SuiteInitError, suite_init

    repo = Path(args.repo)
    if not repo.is_dir():
        raise CliError(f"--repo {repo} does not exist")
    out = Path(args.out) if args.out else CommonSettings().data_dir / "suites" / repo.resolve().name
    try:
        summary = suite_init(repo, out, specialist=args.specialist, commits=args.commits, share=args.share,
                             per_file=args.per_file, force=args.force)
    except SuiteInitError as err:
        raise CliError(str(err)) from None
    counts = ", ".join(f"{n} {cat}" for cat, n in summary["prompts"].items())  # type: ignore[attr-defined]
    print(f"wrote the suite {out}: {counts} prompts; held out of training: {len(summary['heldout_files'])} files "  # type: ignore[arg-type]
          f"and {len(summary['commits'])} commits (listed in {out / 'HELDOUT.md'})")  # type: ignore[arg-type]
    print(f"use it: export OURO_SPECIALISTS={Path(str(summary['specialists'])).resolve()}")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from ouro.config import default_toml

    out = Path(args.out)
    if out.exists() and not args.force:
        raise CliError(f"{out} exists already: edit it, or pass --force to overwrite it")
    out.write_text(default_toml())
    print(f"wrote {out}: uncomment what you change; `ouro config` shows the effective values")
    return 0


# The env var behind an option, named in its --help (options set per command override them).
ENV_OF = {"nats_url": "OURO_NATS_URL", "base_model": "OURO_BASE_MODEL", "config": "OURO_CONFIG",
          "max_steps": "OURO_TRAINER_MAX_STEPS", "max_commits": "OURO_HARVESTER_MAX_COMMITS",
          "max_new_tokens": "OURO_EVALUATOR_MAX_NEW_TOKENS", "spool_dir": "OURO_DATA_DIR",
          "rate_url": "OURO_EVALUATOR_JUDGE_URL", "rate_model": "OURO_EVALUATOR_JUDGE_MODEL",
          "metrics_port": "OURO_METRICS_PORT"}


class OuroParser(argparse.ArgumentParser):
    """Every `ouro ... --help` keeps its description's layout (examples) and says each option's
    default and env var: see `explain_defaults`."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


def explain_defaults(parser: argparse.ArgumentParser) -> None:
    """Append "(default: X)" and "[env: VAR]" to each option's help, unless it says so already,
    in this parser and every subcommand's (the offline cores', hooks' and export's too)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                explain_defaults(sub)
            continue
        if not action.option_strings or action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        text = (action.help or "").replace("%", "%%") if "%(" not in (action.help or "") else action.help or ""
        if action.required:
            text = f"{text} (required)".strip()
        elif "default" not in text:
            if isinstance(action, argparse._StoreTrueAction):
                shown = "off"
            elif action.default is None or action.default == []:
                shown = "none"
            else:
                shown = "%(default)s"
            text = f"{text} (default: {shown})".strip()
        env = ENV_OF.get(action.dest)
        if env and env not in text:
            text += f" [env: {env}]"
        action.help = text


def build_parser() -> argparse.ArgumentParser:
    p = OuroParser(prog="ouro", description=__doc__)
    p.add_argument("--debug", action="store_true", help="show tracebacks and the bus's own log lines")
    p.add_argument("--config", metavar="FILE",
                   help="the loop's settings file (env: OURO_CONFIG; default: ./ouro.toml if present); "
                        "env vars override it")
    sub = p.add_subparsers(dest="command", required=True, parser_class=OuroParser)
    names = list(specialists().names)

    def cycle_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--specialist", choices=names, default="orchestrator")
        sp.add_argument("--repo", help="git repository to mine (default: none)")
        sp.add_argument("--sessions", help="session log file or directory")
        sp.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the decision")
        sp.add_argument("--connect-attempts", type=int, default=20, help="(ouro run) tries to reach its own NATS")
        sp.add_argument("--nats-url", help="the loop to use (default: OURO_NATS_URL, else the running `ouro up`)")

    sp = sub.add_parser("run", help="embedded NATS + services, one cycle, print the decision, stop")
    cycle_args(sp)
    sp.add_argument("--base-model", help="base model (default: OURO_BASE_MODEL or the embedded SmolLM2)")
    sp.add_argument("--cycles", type=int, default=1,
                    help="successive cycles on a scratch clone of --repo, replaying its history (default: 1)")
    sp.add_argument("--step", type=int, default=3, help="commits between two of those cycles (default: 3)")
    sp.set_defaults(func=cmd_run, wait=True)

    sp = sub.add_parser("up", help="embedded NATS + the services in the foreground, restarted if they die")
    sp.add_argument("--port", type=int, default=None, help="NATS port (default: 4222, else a free one)")
    sp.add_argument("--metrics-port", type=int, default=0,
                    help="serve the supervisor's /metrics (ouro_service_restarts_total) here (default: off)")
    sp.add_argument("--base-model", help="base model (default: OURO_BASE_MODEL or the embedded SmolLM2)")
    sp.add_argument("--tls", action="store_true",
                    help="NATS over TLS only, with a CA and certificate made under <data_dir>/auth/tls "
                         "(clients: OURO_NATS_URL=tls://...)")
    sp.set_defaults(func=cmd_up)

    sp = sub.add_parser("cycle", help="start one cycle on a running loop")
    cycle_args(sp)
    sp.add_argument("--wait", action="store_true", help="follow the cycle and print the decision")
    sp.set_defaults(func=cmd_cycle)

    url_help = "the loop to use (default: OURO_NATS_URL, else the running `ouro up`, else nats://127.0.0.1:4222)"
    sp = sub.add_parser("status", help="champions, corpus, training in flight, restarts and consumer backlogs")
    sp.add_argument("--json", action="store_true", help="machine-readable (default: a table)")
    sp.add_argument("--nats-url", help=url_help)
    sp.set_defaults(func=cmd_status)

    sp = sub.add_parser("history", help="the event chronicle")
    sp.add_argument("--limit", type=int, default=50, help="at most this many lines (default: 50)")
    sp.add_argument("--cycle", help="only this cycle (an id or the short id history prints)")
    sp.add_argument("--type", action="append", metavar="TYPE",
                    help="only events of this type, e.g. eval.completed (repeatable; default: all)")
    sp.add_argument("--json", action="store_true",
                    help="machine-readable, with per-category intervals of eval.completed (default: lines)")
    sp.add_argument("--nats-url", help=url_help)
    sp.set_defaults(func=cmd_history)

    sp = sub.add_parser("runs", help="one row per training cycle: data, loss, scores vs champion, decision")
    sp.add_argument("--specialist", choices=names, help="only this specialist (default: all)")
    sp.add_argument("--limit", type=int, default=20, help="the newest this many runs (default: 20)")
    sp.add_argument("--json", action="store_true", help="machine-readable (default: a table)")
    sp.add_argument("--nats-url", help=url_help)
    sp.set_defaults(func=cmd_runs)

    sp = sub.add_parser("show", help="a checkpoint: scores per category vs champion, the gate's reasons, "
                                     "sample answers of both models, lineage")
    sp.add_argument("checkpoint", help="a checkpoint id or a unique prefix (as `ouro runs` prints)")
    sp.add_argument("--json", action="store_true", help="machine-readable (default: text)")
    sp.add_argument("--nats-url", help=url_help)
    sp.set_defaults(func=cmd_show)

    sp = sub.add_parser("artifacts", help="list or fetch stored datasets, adapters and eval reports")
    sp.add_argument("action", choices=["list", "get"])
    sp.add_argument("ref", nargs="?", default="",
                    help="get: an artifact name (as `list` prints) or a checkpoint id/prefix (its adapter, dataset "
                         "and eval report)")
    sp.add_argument("--out", help="get: the directory to write into (required for get)")
    sp.add_argument("--prefix", default="", help="list: only names starting with this (default: all)")
    sp.add_argument("--nats-url", help=url_help)
    sp.set_defaults(func=cmd_artifacts)

    sp = sub.add_parser("lineage", help="a checkpoint's parent, dataset, corpus version and the commits behind it")
    sp.add_argument("checkpoint")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--nats-url", help=url_help)
    sp.set_defaults(func=cmd_lineage)

    sp = sub.add_parser("rollback", help="restore an archived champion (the latest by default)")
    sp.add_argument("--specialist", choices=names, required=True)
    sp.add_argument("--to", help="checkpoint id to restore (default: the champion before the current one)")
    sp.add_argument("--nats-url", help=url_help)
    sp.set_defaults(func=cmd_rollback)

    sp = sub.add_parser("config", help="every setting's effective value and where it came from (default, file, env)")
    sp.add_argument("--json", action="store_true", help="machine-readable (default: a table)")
    sp.set_defaults(func=cmd_config)

    sp = sub.add_parser("suite", help="suite init: a held-out evaluation suite for your own repository")
    sp.add_argument("action", choices=["init"])
    sp.add_argument("--repo", required=True, help="the git repository to build the suite for")
    sp.add_argument("--specialist", choices=names, default="coder", help="the specialist that evaluates on it")
    sp.add_argument("--out", help="the suite directory (default: <data_dir>/suites/<repo name>)")
    sp.add_argument("--commits", type=int, default=5, help="newest commits to ask about")
    sp.add_argument("--share", type=float, default=0.2, help="share of the Python files held out of training")
    sp.add_argument("--per-file", type=int, default=10, help="at most this many prompts per held-out file")
    sp.add_argument("--force", action="store_true", help="write into a non-empty --out")
    sp.set_defaults(func=cmd_suite)

    sp = sub.add_parser("init", help="write a commented ouro.toml with every setting at its default")
    sp.add_argument("--out", default="ouro.toml", help="where to write it")
    sp.add_argument("--force", action="store_true", help="overwrite an existing file")
    sp.set_defaults(func=cmd_init)

    from ouro import hooks_cli, offline_cores

    offline_cores.add_parsers(sub, offline_cores.run)
    hooks_cli.add_parsers(sub)
    from ouro.export.cli import add_parser as add_export_parser

    add_export_parser(sub)
    explain_defaults(p)
    return p


def main(argv: list[str] | None = None) -> int:
    offline()
    from ouro.config import ConfigError, apply_config

    # The config file first: it may name the specialist file, whose names are --specialist choices.
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config")
    known, _ = early.parse_known_args(argv)
    try:
        apply_config(known.config)
    except ConfigError as err:
        print(f"ouro: {err}", file=sys.stderr)
        return 2
    from shared.service import configure_logging

    configure_logging()
    try:
        parser = build_parser()  # loads the specialist file: its choices are the --specialist choices
    except SpecialistConfigError as err:
        print(f"ouro: {err}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if not args.debug:  # the CLI's own connects and retries are not news; a failure is one line below
        logging.getLogger("ouro.bus").setLevel(logging.CRITICAL)
    try:
        return args.func(args)
    except CliError as err:
        print(f"ouro {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ouro history | head`: the reader has what it wanted
        sys.stderr.close()
        return 0
    except Exception as err:  # noqa: BLE001 - one line for a person; --debug for the traceback
        if args.debug:
            raise
        print(f"ouro {args.command}: {type(err).__name__}: {err} (run `ouro --debug {args.command} ...` for the "
              "traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
