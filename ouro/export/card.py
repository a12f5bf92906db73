"""The card of a corpus export: what it holds, where it came from, what was removed, under which licences.

`corpus_card(...)` returns the facts as a plain dict (written as `card.json`); `corpus_markdown`
renders them as the README.md every export carries. Facts the corpus does not record are named
as not recorded, never guessed: the judge's per-reason drop counts live in each dataset's
`report.json`, not in the corpus, and the decontamination settings here are the judge's
defaults, not necessarily a deployment's.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from ouro.export.rows import ExportOptions, Selection
from services.judge.config import JudgeConfig
from services.judge.corpus import Corpus
from services.judge.decontaminate import BENCHMARKS_DIR
from shared.specialists import specialists

MAX_LISTED = 50
EXTERNAL_GENERATORS = ("external",)
HOW_TO_LOAD = {
    "hf": '`datasets.load_from_disk("data")`: a DatasetDict of the splits (messages with `tool_calls` / '
          '`tool_call_id`; `tools`, a JSON string, on rows that call tools)',
    "parquet": "`datasets.load_dataset(DIR)` (the `configs` above), or any Parquet reader on `data/*.parquet`",
    "openai": "`<split>.jsonl`, one `{\"messages\": [...]}` per line (tool calls as `tool_calls`, with `tools`): "
              "upload as a chat fine-tuning training / validation file",
    "sharegpt": "`<split>.jsonl`, one `{\"id\", \"conversations\": [{\"from\", \"value\"}]}` per line "
                "(from: system, human, gpt, function_call, observation; `tools`, a JSON string, on rows that call any)",
    "alpaca": "`<split>.jsonl`, one `{\"instruction\", \"input\", \"output\", \"system\"}` per line "
              "(single-turn examples only)",
}
SPLIT_RULE = ("one group per commit, else per session, else per file (a row of a data file is its own group), "
              "else per source; sha256(salt, group) below the validation share → validation")


def benchmark_licences(readme: Path = BENCHMARKS_DIR / "README.md") -> dict[str, dict[str, str]]:
    """name -> {file, source, licence}, read from the table in the judge's benchmarks README."""
    out: dict[str, dict[str, str]] = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*`([^`]+)`\s*\|[^|]*\|([^|]*)\|([^|]*)\|", line)
        if m:
            file, source, licence = m.group(1), m.group(2).strip(), m.group(3).strip()
            name = re.split(r"[_.]", file)[0]
            out[name] = {"file": file, "source": source, "licence": licence}
    return out


def _counts(values: list[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def _top(counter: Counter[str]) -> dict[str, int]:
    top = dict(counter.most_common(MAX_LISTED))
    rest = sum(counter.values()) - sum(top.values())
    return top | ({"(others)": rest} if rest else {})


def decontamination_facts(corpus: Corpus, config: JudgeConfig | None = None) -> dict[str, object]:
    config = config or JudgeConfig()
    removed = Counter(e.retired.split(":", 1)[1] for e in corpus.entries.values()
                      if e.retired and e.retired.startswith("contaminated:"))
    sets = []
    if config.builtin_benchmarks:
        sets += [f"{name} ({b['licence']})" for name, b in benchmark_licences().items()]
    sets += [f"suite {p.suite} of {name}" for name, p in specialists().profiles.items()]
    return {
        "enabled": config.decontaminate,
        "index": corpus.decontamination_index,
        "sets": sets,
        "threshold": {"ngram": config.decontam_ngram, "fallback_ngram": config.decontam_fallback_ngram,
                      "overlap": config.decontam_overlap},
        "settings_source": "the judge's defaults (services/judge/config.py JudgeConfig); a deployment that sets "
                           "OURO_JUDGE_* differently, or adds benchmark files, is not recorded in the corpus",
        "removed_from_corpus": sum(removed.values()),
        "removed_from_corpus_by_item": _top(removed),
        "removed_at_intake": None,
        "removed_at_intake_note": "not recorded in the corpus: an example rejected as contaminated never enters "
                                  "it; each dataset's report.json counts them (`contaminated`)",
    }


def corpus_card(corpus: Corpus, sel: Selection, options: ExportOptions, *, exported_at: datetime,
                licences: Mapping[str, str] | None = None, config: JudgeConfig | None = None) -> dict[str, object]:
    licences = licences or {}
    rows = sel.rows
    examples = [r.example for r in rows]
    by_category: dict[str, dict[str, int]] = {}
    for r in rows:
        by_category.setdefault(r.example.category, {"train": 0, "validation": 0})[r.split] += 1
    external: dict[str, dict[str, object]] = {}
    for ex in examples:
        if ex.generator in EXTERNAL_GENERATORS:
            key = ex.provenance.path or ex.provenance.source
            item = external.setdefault(key, {"source": ex.provenance.source, "path": ex.provenance.path,
                                             "examples": 0})
            item["examples"] = int(item["examples"]) + 1  # type: ignore[call-overload]
    for item in external.values():
        item["licence"] = (licences.get(str(item["path"])) or licences.get(str(item["source"]))
                           or "not recorded: check the dataset's licence before redistributing this export")
    commits = sorted({ex.provenance.commit for ex in examples if ex.provenance.commit})
    sessions = {ex.provenance.session_id for ex in examples if ex.provenance.session_id}
    added = sorted(r.entry.added_at for r in rows)
    retired = [e.retired for e in corpus.entries.values() if e.retired]
    return {
        "kind": "corpus",
        "specialist": corpus.specialist,
        "corpus_version": corpus.version,
        "trained_version": corpus.trained_version,
        "exported_at": exported_at.isoformat(),
        "format": options.format,
        "options": {"validation_share": options.validation_share, "split_salt": options.split_salt,
                    "think": options.think, "fim": options.fim},
        "split_rule": SPLIT_RULE,
        "counts": {"examples": len(rows), "train": len(sel.split("train")),
                   "validation": len(sel.split("validation")),
                   "groups": {"train": len({r.group for r in sel.split("train")}),
                              "validation": len({r.group for r in sel.split("validation")})}},
        "by_category": dict(sorted(by_category.items())),
        "by_generator": _counts([ex.generator for ex in examples]),
        "by_source": _top(Counter(ex.provenance.source for ex in examples)),
        "by_format": _counts([r.format for r in rows]),
        "left_out": dict(sorted(sel.left_out.items())),
        "retired_by_reason": _top(Counter(retired)),
        "judge_drops": None,
        "judge_drops_note": "not recorded in the corpus: the corpus holds what the judge kept; the per-reason drop "
                            "counts of each judged cycle are in the report.json of the dataset written for it",
        "decontamination": decontamination_facts(corpus, config),
        "external_datasets": sorted(external.values(), key=lambda d: str(d["path"])),
        "provenance": {
            "commits": len(commits), "commit_list": commits[:MAX_LISTED],
            "commit_order": "not recorded: the corpus keeps commit ids, not their dates or parents",
            "examples_without_commit": sum(1 for ex in examples if not ex.provenance.commit),
            "sessions": len(sessions),
            "cycles": len({r.entry.cycle_id for r in rows}),
            "entered_from": added[0].isoformat() if added else None,
            "entered_to": added[-1].isoformat() if added else None,
        },
    }


def _table(head: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows] or ["| " + " | ".join(["(none)"] * len(head))
                                                                            + " |"]
    return "\n".join(lines)


def corpus_markdown(card: Mapping[str, object], front_matter: str = "") -> str:
    c = card
    counts: dict = c["counts"]  # type: ignore[assignment]
    deco: dict = c["decontamination"]  # type: ignore[assignment]
    prov: dict = c["provenance"]  # type: ignore[assignment]
    opts: dict = c["options"]  # type: ignore[assignment]
    cats = _table(("category", "train", "validation"),
                  [(k, v["train"], v["validation"]) for k, v in c["by_category"].items()])  # type: ignore[union-attr]
    gens = _table(("generator", "examples"), list(c["by_generator"].items()))  # type: ignore[union-attr]
    srcs = _table(("source", "examples"), list(c["by_source"].items()))  # type: ignore[union-attr]
    left = _table(("reason", "examples"), list(c["left_out"].items()))  # type: ignore[union-attr]
    retired = _table(("reason", "examples"), list(c["retired_by_reason"].items()))  # type: ignore[union-attr]
    ext = _table(("dataset", "path", "examples", "licence"),
                 [(d["source"], d["path"], d["examples"], d["licence"]) for d in c["external_datasets"]])  # type: ignore[union-attr]
    removed = ", ".join(f"`{k}`: {v}" for k, v in deco["removed_from_corpus_by_item"].items()) or "none"
    commits = ", ".join(f"`{x[:12]}`" for x in prov["commit_list"]) or "none"
    more = f" (first {MAX_LISTED} listed)" if prov["commits"] > MAX_LISTED else ""
    return f"""{front_matter}# Ouroboros corpus export: {c['specialist']}, corpus version {c['corpus_version']}

Exported {c['exported_at']} as `{c['format']}`: **{counts['examples']}** examples, {counts['train']} train
({counts['groups']['train']} groups) and {counts['validation']} validation ({counts['groups']['validation']} groups).
Options: validation share {opts['validation_share']}, split salt `{opts['split_salt']}`, think tags
{'kept' if opts['think'] == 'keep' else 'stripped'}, fill-in-the-middle examples {'kept' if opts['fim'] == 'keep'
else 'dropped'}. The last training snapshot was taken at corpus version {c['trained_version']}.

Files: {HOW_TO_LOAD[str(c['format'])]}.

Split: {c['split_rule']}. No group is on both sides.

## By category

{cats}

## By generator

{gens}

By format: {', '.join(f'{k} {v}' for k, v in c['by_format'].items()) or 'none'}.

## By source

{srcs}

## Left out of this export

Live examples the options or the format left out:

{left}

Retired from the corpus (kept there for audit, never exported):

{retired}

## The judge's drops

{c['judge_drops_note']}.

## Decontamination

- Against: {', '.join(deco['sets'])}.
- Threshold: word {deco['threshold']['ngram']}-grams ({deco['threshold']['fallback_ngram']}-grams for short items),
  contaminated when more than {deco['threshold']['overlap']:.0%} of either side's n-grams are shared.
- Settings: {deco['settings_source']}.
- Index the live corpus was last checked against: `{deco['index']}`.
- Removed from the corpus after entering it (a suite or benchmark changed): {deco['removed_from_corpus']} ({removed}).
- Removed at intake: {deco['removed_at_intake_note']}.

## External datasets and licences

{ext}

The benchmarks above are decontamination references only; none of their items is in this export.
Examples mined from a repository or from sessions carry the licence and the consent of their origin.

## Where it came from

- Commits: {prov['commits']}{more}: {commits}. Order: {prov['commit_order']}.
- Examples mined from files at HEAD or from sessions (no commit recorded): {prov['examples_without_commit']}.
- Sessions: {prov['sessions']}. Judge cycles: {prov['cycles']}.
- Entered the corpus between {prov['entered_from']} and {prov['entered_to']}.

Machine-readable: `card.json`.
"""
