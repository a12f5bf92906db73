"""Offline judging of a JSONL file of examples (what `ouro judge --in FILE.jsonl --out DIR` calls).

    HF_HUB_OFFLINE=1 python -m services.judge.cli --in examples.jsonl --out out/ --specialist coder

Each input line is one `Example` as JSON; bad lines are rejected with a reason, not fatal.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from services.judge.core import judge_file
from services.judge.settings import JudgeSettings
from shared.specialists import specialists


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ouro judge", description=__doc__.splitlines()[0])
    p.add_argument("--in", dest="inp", type=Path, required=True, help="JSONL file of examples")
    p.add_argument("--out", type=Path, required=True, help="output directory (data/, README.md, report.json)")
    p.add_argument("--specialist", choices=list(specialists().names), default="orchestrator")
    p.add_argument("--tokenizer-dir", default=None, help="base model dir (default: the configured base model)")
    p.add_argument("--history", type=Path, default=None, help="dedup history file (.npz); updated after writing")
    p.add_argument("--no-coherence", action="store_true", help="skip the embedding-based coherence filter")
    args = p.parse_args(argv)
    if not args.inp.is_file():
        print(f"ouro judge: {args.inp} is not a file of examples (JSONL)", file=sys.stderr)
        return 2

    tokenizer_dir = args.tokenizer_dir
    if tokenizer_dir is None:
        from shared.models import resolve_base_model
        from shared.settings import CommonSettings

        settings = CommonSettings()
        tokenizer_dir = resolve_base_model(settings.base_model, settings.data_dir)
    config = JudgeSettings().judge_config()
    if args.no_coherence:
        config = config.model_copy(update={"coherence": False})
    summary = judge_file(args.inp, args.out, specialist=args.specialist, config=config, tokenizer_dir=tokenizer_dir,
                         history=args.history)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
