"""`ouro hooks` and `ouro emit`: tell the loop about commits and sessions from outside it.

    ouro hooks install REPO [--nats-url URL]      # post-commit hook: every commit → ouro.commits.new
    ouro emit session FILE [--format openai|sharegpt|agent] [--session-id ID]
    ouro emit commit --repo R --sha S --branch B [--spool-dir D]   # what the hook runs
    ouro emit flush [--repo REPO | --spool-dir DIR]               # resend what was spooled

Every emit spools to disk when NATS is down or slow and resends the spool first on the next
success, so an event is never lost (shared/emit.py). The spool of `emit session` and of a bare
`emit flush` is `$OURO_DATA_DIR/spool` (default .ouro/spool); a repo hook's is `.git/ouro/spool`.
The hook runs this module directly (`python -m ouro.hooks_cli emit commit ...`), which keeps
its start-up to the imports it needs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _settings_url() -> str:
    from shared.settings import CommonSettings

    return CommonSettings().nats_url


def _default_spool() -> Path:
    from shared.settings import CommonSettings

    return CommonSettings().data_dir / "spool"


def cmd_hooks_install(args: argparse.Namespace) -> int:
    from services.harvester.hooks import HookError, install

    try:
        from shared.settings import CommonSettings

        done = install(Path(args.repo), nats_url=args.nats_url or _settings_url(), data_dir=CommonSettings().data_dir)
    except HookError as err:
        print(f"ouro hooks install: {err}", file=sys.stderr)
        return 2
    if done.chained:
        print(f"ouro hooks install: kept the existing post-commit hook as {done.chained}; it runs first",
              file=sys.stderr)
    print(json.dumps({"hook": str(done.hook), "chained": str(done.chained) if done.chained else None,
                      "spool": str(done.spool_dir), "log": str(done.git_dir / "ouro" / "hook.log")}))
    return 0


def cmd_emit_commit(args: argparse.Namespace) -> int:
    from shared.emit import emit
    from shared.events import CommitsNew, derived_id, new_id

    repo = str(Path(args.repo).resolve())
    # One id per (repo, sha): a hook that fires twice for a commit publishes one event.
    event = CommitsNew(event_id=derived_id("commits.new", repo, args.sha), cycle_id=new_id(),
                       repo=repo, sha=args.sha, branch=args.branch)
    spool = Path(args.spool_dir) if args.spool_dir else _default_spool()
    sent = emit(event, nats_url=args.nats_url or _settings_url(), spool_dir=spool, timeout=args.timeout)
    print(json.dumps({"subject": "commits.new", "sha": args.sha, "sent": sent, "spool": None if sent else str(spool)}),
          flush=True)
    return 0


def cmd_emit_session(args: argparse.Namespace) -> int:
    from shared.emit import emit
    from shared.events import SessionsNew, new_id

    path = Path(args.file).resolve()
    if not path.is_file():
        print(f"ouro emit session: {path} is not a file (give a session log: .jsonl or .json)", file=sys.stderr)
        return 2
    session_id = args.session_id or path.stem
    event = SessionsNew(cycle_id=new_id(),
                        session_id=session_id, format=args.format, ref=str(path))
    spool = Path(args.spool_dir) if args.spool_dir else _default_spool()
    sent = emit(event, nats_url=args.nats_url or _settings_url(), spool_dir=spool, timeout=args.timeout)
    print(json.dumps({"session_id": session_id, "ref": str(path), "sent": sent, "spool": None if sent else str(spool)}))
    return 0 if sent else 1


def cmd_emit_flush(args: argparse.Namespace) -> int:
    from shared.emit import flush

    if args.repo:
        from services.harvester.hooks import HookError, git_dir_of, spool_dir

        try:
            spool = spool_dir(git_dir_of(Path(args.repo)))
        except HookError as err:
            print(f"ouro emit flush: {err}", file=sys.stderr)
            return 2
    else:
        spool = Path(args.spool_dir) if args.spool_dir else _default_spool()
    result = flush(nats_url=args.nats_url or _settings_url(), spool_dir=spool, timeout=args.timeout)
    print(json.dumps({"spool": str(spool), "sent": result.sent, "pending": result.pending}))
    return 0 if result.pending == 0 else 1


def add_parsers(sub: argparse._SubParsersAction) -> None:
    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--nats-url", help="default: OURO_NATS_URL or nats://127.0.0.1:4222")
        sp.add_argument("--timeout", type=float, default=1.0, help="seconds for the connect and each publish")

    hooks = sub.add_parser("hooks", help="git hooks that publish every commit to the loop")
    hsub = hooks.add_subparsers(dest="hooks_command", required=True)
    sp = hsub.add_parser("install", help="write REPO/.git/hooks/post-commit (an existing hook is kept and chained)")
    sp.add_argument("repo")
    sp.add_argument("--nats-url", help="the NATS the hook publishes to (default: OURO_NATS_URL or localhost:4222)")
    sp.set_defaults(func=cmd_hooks_install)

    emit = sub.add_parser("emit", help="publish a commit or session event; spooled when NATS is down")
    esub = emit.add_subparsers(dest="emit_command", required=True)

    sp = esub.add_parser("session", help="publish sessions.new for a session log file (by absolute path)")
    sp.add_argument("file")
    sp.add_argument("--format", choices=["openai", "sharegpt", "agent"], default="openai")
    sp.add_argument("--session-id", help="default: the file name without its extension")
    sp.add_argument("--spool-dir", help="default: $OURO_DATA_DIR/spool")
    common(sp)
    sp.set_defaults(func=cmd_emit_session)

    sp = esub.add_parser("commit", help="publish commits.new (what the post-commit hook runs)")
    sp.add_argument("--repo", required=True)
    sp.add_argument("--sha", required=True)
    sp.add_argument("--branch", required=True)
    sp.add_argument("--spool-dir", help="default: $OURO_DATA_DIR/spool")
    common(sp)
    sp.set_defaults(func=cmd_emit_commit)

    sp = esub.add_parser("flush", help="resend everything spooled, in order")
    where = sp.add_mutually_exclusive_group()
    where.add_argument("--repo", help="flush this repository's hook spool (.git/ouro/spool)")
    where.add_argument("--spool-dir", help="default: $OURO_DATA_DIR/spool")
    common(sp)
    sp.set_defaults(func=cmd_emit_flush)


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m ouro.hooks_cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
