"""`ouro export`: the corpus or a checkpoint, in the formats other tools take.

    ouro export --specialist coder --format openai --out exports/coder-openai
    ouro export --specialist coder --corpus-version 12 --format hf --out exports/coder-v12 --think strip
    ouro export --adapter CHECKPOINT --out exports/adapter            # PEFT adapter, for vLLM --lora-modules
    ouro export --adapter CHECKPOINT --out exports/merged --merge     # merged full model (safetensors)

Formats: hf (a `datasets` directory), parquet, openai (chat fine-tuning JSONL), sharegpt, alpaca
(single-turn examples only). Every export carries README.md and card.json. The target must not
exist or be empty (--force replaces it); it is written in a temporary directory and renamed, so a
failed export leaves nothing behind.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from ouro.export.rows import FORMATS, ExportError, ExportOptions


def _licences(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, licence = pair.partition("=")
        if not sep or not name or not licence:
            raise ExportError(f"--licence takes SOURCE=LICENCE (e.g. alpaca_data.json=CC-BY-NC-4.0), got {pair!r}")
        out[name] = licence
    return out


async def _export(args: argparse.Namespace) -> dict[str, object]:
    from ouro.client import connect, loop_url
    from ouro.export.write import check_target

    out = Path(args.out)
    if args.specialist is not None:  # refuse what can be refused before connecting
        if args.format is None:
            raise ExportError(f"--format is required with --specialist; one of: {', '.join(FORMATS)}")
        if args.merge or args.base_model:
            raise ExportError("--merge and --base-model are for an adapter export (--adapter)")
        options = ExportOptions(format=args.format, validation_share=args.validation_share,
                                split_salt=args.split_salt, think=args.think, fim=args.fim)
        options.check()
        licences = _licences(args.licence)
    elif args.format is not None or args.corpus_version is not None:
        raise ExportError("--format and --corpus-version are for a corpus export (--specialist); "
                          "an adapter is exported as itself")
    check_target(out, args.force)
    bus = await connect(loop_url(args.nats_url))  # no loop there: a CliError, one line from `ouro`
    try:
        if args.specialist is not None:
            from ouro.export.bus import load_corpus_version
            from ouro.export.write import export_corpus

            corpus = await load_corpus_version(bus, args.specialist, args.corpus_version)
            return await asyncio.to_thread(export_corpus, corpus, options, out, force=args.force, licences=licences)
        from ouro.export.adapter import export_adapter
        from ouro.export.bus import load_checkpoint

        with tempfile.TemporaryDirectory() as tmp:
            adapter_dir, facts = await load_checkpoint(bus, args.adapter, Path(tmp))
            base = _merge_base(args, facts.record.base_model) if args.merge else None
            return await asyncio.to_thread(export_adapter, adapter_dir, facts, out, merge_base=base, force=args.force)
    finally:
        await bus.close()


def _merge_base(args: argparse.Namespace, spec: str) -> Path:
    from shared.models import ModelNotFound, resolve_base_model
    from shared.settings import CommonSettings

    try:
        return resolve_base_model(args.base_model or spec, CommonSettings().data_dir)
    except ModelNotFound as err:
        raise ExportError(f"cannot merge: {err}; pass --base-model DIR with the base model's files") from err


def cmd_export(args: argparse.Namespace) -> int:
    try:
        card = asyncio.run(_export(args))
    except ExportError as err:
        print(f"ouro export: {err}", file=sys.stderr)
        return 2
    if card.get("kind") == "corpus":
        counts = card["counts"]
        print(f"exported {card['specialist']} corpus version {card['corpus_version']} as {card['format']}: "
              f"{counts['train']} train, {counts['validation']} validation → {args.out}")  # type: ignore[index]
        unknown = [d["source"] for d in card["external_datasets"] if str(d["licence"]).startswith("not recorded")]  # type: ignore[union-attr,index]
        if unknown:
            print(f"ouro export: warning: no licence recorded for external dataset(s) {', '.join(map(str, unknown))}; "
                  "name it with --licence SOURCE=LICENCE", file=sys.stderr)
    else:
        print(f"exported checkpoint {card['checkpoint_id']} as {card['kind']} → {args.out}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser("export", help="the corpus (hf, parquet, openai, sharegpt, alpaca) or an adapter, with a card",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = sp.add_mutually_exclusive_group(required=True)
    what.add_argument("--specialist", help="export this specialist's corpus")
    what.add_argument("--adapter", metavar="CHECKPOINT", help="export this checkpoint's adapter")
    sp.add_argument("--out", required=True, help="directory to create (must not exist, or be empty)")
    sp.add_argument("--force", action="store_true", help="replace --out if it holds something")
    sp.add_argument("--nats-url", help="the loop to read (default: OURO_NATS_URL, else the running `ouro up`)")
    corpus = sp.add_argument_group("corpus export")
    corpus.add_argument("--format", help=f"one of: {', '.join(FORMATS)}")
    corpus.add_argument("--corpus-version", type=int, help="default: the current version")
    corpus.add_argument("--validation-share", type=float, default=0.1, help="share of groups held out (0: none)")
    corpus.add_argument("--split-salt", default="", help="another salt draws another split")
    corpus.add_argument("--think", choices=["keep", "strip"], default="keep", help="think tags in answers")
    corpus.add_argument("--fim", choices=["keep", "drop"], default="keep", help="fill-in-the-middle examples")
    corpus.add_argument("--licence", action="append", default=[], metavar="SOURCE=LICENCE",
                        help="the licence of an external dataset (its file name or path), for the card; repeatable")
    adapter = sp.add_argument_group("adapter export")
    adapter.add_argument("--merge", action="store_true", help="write the base model with the adapter merged in")
    adapter.add_argument("--base-model", help="local base model directory for --merge (default: the checkpoint's)")
    sp.set_defaults(func=cmd_export)
