"""`ouro`: run the loop, start a cycle, look at it, roll it back; and the offline cores.

    ouro run                        # embedded NATS + five services, one cycle, the decision
    ouro up                         # embedded NATS + five services in the foreground (Ctrl-C stops)
    ouro cycle --specialist orchestrator --repo . --sessions examples/sessions --wait
    ouro status | history | rollback --specialist coder [--to CHECKPOINT]
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
from shared.events import Event, decode
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
        outcome = await run_cycle(bus, request, timeout=args.timeout, on_event=_print_progress,
                                  on_wait=lambda t, stage: print(f"[{t:7.1f}s] ... {stage}", flush=True))
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
    try:
        # Exits only on Ctrl-C / SIGTERM: a service that dies is started again (with backoff);
        # its unacked work is redelivered to the new process.
        while not stopping:
            supervisor.tick()
            time.sleep(0.5)
    finally:
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


async def _history(url: str, limit: int, cycle: str | None) -> int:
    from ouro.cycle import describe
    from shared.events import STREAM_NAME

    bus = await connect(url)
    try:
        info = await bus.js.stream_info(STREAM_NAME)
        first, last = info.state.first_seq, info.state.last_seq
        lines = []
        for seq in range(max(first, last - limit * 20 + 1) if not cycle else first, last + 1):
            try:
                raw = await bus.js.get_msg(STREAM_NAME, seq)
                event = decode(raw.subject, raw.data)
            except Exception:  # noqa: BLE001 - deleted or foreign message: skip it
                continue
            if cycle and not event.cycle_id.startswith(cycle):  # history prints 8-character ids
                continue
            lines.append(f"{seq:>6} {event.occurred_at:%Y-%m-%d %H:%M:%S} {event.cycle_id[:8]} {describe(event)}")
        if not lines:
            raise CliError(f"no events of cycle {cycle!r} in the stream" if cycle else "the stream is empty")
        print("\n".join(lines[-limit:]))
    finally:
        await bus.close()
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    return asyncio.run(_history(loop_url(args.nats_url), args.limit, args.cycle))


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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ouro", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--debug", action="store_true", help="show tracebacks and the bus's own log lines")
    sub = p.add_subparsers(dest="command", required=True)
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
    sp.add_argument("--base-model")
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
    sp.add_argument("--nats-url", help=url_help)
    sp.set_defaults(func=cmd_history)

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

    from ouro import hooks_cli, offline_cores

    offline_cores.add_parsers(sub, offline_cores.run)
    hooks_cli.add_parsers(sub)
    from ouro.export.cli import add_parser as add_export_parser

    add_export_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    offline()
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
    except Exception as err:  # noqa: BLE001 - one line for a person; --debug for the traceback
        if args.debug:
            raise
        print(f"ouro {args.command}: {type(err).__name__}: {err} (run `ouro --debug {args.command} ...` for the "
              "traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
