"""The judge's pure core: filters per batch, then one assembly (dedup, decontamination, balance).

    bv = filter_batch(raw_examples, build_filters(config, specialist, tokenizer_dir))   # N workers
    ds = assemble([bv, ...], specialist=specialist, config=config, history=history)     # 1 assembler
    dataset_id = write_dataset(ds, out_dir)

`judge(...)` does all three steps in-process (the offline CLI).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from services.judge.balance import MixEntry, balance, rank_key
from services.judge.batch import BatchVerdicts, Rejected, filter_batch, reject
from services.judge.config import JudgeConfig
from services.judge.corpus import Snapshot
from services.judge.decontaminate import decontaminate, load_index
from services.judge.dedup import DedupHistory, deduplicate
from services.judge.filters.coherence import CoherenceFilter
from services.judge.filters.length import LengthFilter
from services.judge.filters.noise import NoiseFilter
from services.judge.filters.repetition import RepetitionFilter
from services.judge.filters.secrets import SecretsFilter
from services.judge.filters.unsupported import UnsupportedFactFilter
from services.judge.filters.validity import ValidityFilter
from services.judge.verdict import Filter
from shared.events import Example, content_hash
from shared.specialists import profile


class JudgeReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    specialist: str
    total: int
    kept: int
    dropped: dict[str, int]
    by_generator: dict[str, dict[str, int]]  # generator -> {"kept": n, "<reason>": n}
    by_category: dict[str, dict[str, int]]
    mix: dict[str, MixEntry]
    contaminated: dict[str, list[str]] = Field(default_factory=dict)  # benchmark item -> example ids
    decontamination_index: str | None = None
    config: dict[str, object] = Field(default_factory=dict)
    # a training snapshot of the corpus: its version, and how many examples are new or replayed
    corpus: dict[str, int] = Field(default_factory=dict)


class JudgedDataset(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset_id: str
    specialist: str
    examples: list[Example]
    rejected: list[Rejected]
    report: JudgeReport


def build_filters(config: JudgeConfig, specialist: str, tokenizer_dir: Path | str) -> list[Filter]:
    """Cheap, certain checks first so the expensive ones (tokenizer, embeddings) see fewer examples."""
    prof = profile(specialist)
    filters: list[Filter] = [
        SecretsFilter(),
        NoiseFilter(min_clean_share=config.min_clean_share),
        ValidityFilter(),
        UnsupportedFactFilter(),  # before the tokenizer: a regex pass over the text
        RepetitionFilter(
            max_bigram_repeat=config.max_bigram_repeat,
            top_ngram_share=config.top_ngram_share if config.gopher_repetition else None,
        ),
        LengthFilter(
            tokenizer_dir,
            min_tokens=config.min_tokens if config.min_tokens is not None else prof.min_tokens,
            max_tokens=config.max_tokens if config.max_tokens is not None else prof.max_tokens,
        ),
    ]
    if config.coherence:
        filters.append(
            CoherenceFilter(
                threshold=config.coherence_threshold, thresholds=config.coherence_thresholds,
                max_seq_length=config.coherence_max_tokens, int8=config.coherence_int8,
                cascade=config.coherence_cascade,
            )
        )
    return filters


def assemble(
    batches: Sequence[BatchVerdicts], *, specialist: str, config: JudgeConfig,
    history: DedupHistory | None,
) -> JudgedDataset:
    """Merge filtered batches into one dataset. Deterministic whatever order the batches arrive in.

    `history` is read, not changed: call `history.update(ds.examples)` once the dataset is published.
    """
    specialist = specialist
    weights = config.generator_weights
    rejected: list[Rejected] = [r for b in batches for r in b.rejected]
    # best first: the copy that survives dedup is the highest-weighted generator's
    candidates = sorted((e for b in batches for e in b.kept), key=lambda e: rank_key(e, weights))
    unique: list[Example] = []
    seen: set[str] = set()
    for e in candidates:
        if e.id in seen:  # the same example delivered twice (redelivery, or in two batches)
            rejected.append(reject("duplicate:exact", e, detail=e.id))
        elif e.specialist != specialist:
            rejected.append(reject("wrong_specialist", e, detail=str(e.specialist)))
        else:
            unique.append(e)
        seen.add(e.id)

    index_key = None
    contaminated: dict[str, list[str]] = defaultdict(list)
    if config.decontaminate:
        index = load_index(
            suites=config.suite_dirs(), extra=config.extra_benchmark_files, builtin=config.builtin_benchmarks,
            n=config.decontam_ngram, fallback=config.decontam_fallback_ngram, cache_dir=config.cache_dir,
        )
        index_key = index.key
        unique, dirty = decontaminate(unique, index, overlap=config.decontam_overlap)
        for e, item in dirty:
            rejected.append(reject("contaminated", e, detail=item))
            contaminated[item].append(e.id)

    unique, dups = deduplicate(
        unique, history, num_perm=config.num_perm, shingle_size=config.shingle_size,
        threshold=config.dedup_threshold,
    )
    rejected += [reject(reason, e, detail=of) for e, reason, of in dups]

    kept, cut, mix = balance(
        unique, profile=profile(specialist), cap=config.per_category_cap, max_examples=config.max_examples,
        generator_weights=weights,
    )
    rejected += [reject("balance:over_quota", e, detail=e.category) for e in cut]
    kept.sort(key=lambda e: (e.category, e.id))
    rejected.sort(key=lambda r: (r.reason, r.id or "", r.detail or ""))

    fingerprint = config.fingerprint()
    dataset_id = content_hash(
        {"specialist": str(specialist), "ids": sorted(e.id for e in kept), "config": fingerprint, "index": index_key}
    )
    report = _report(specialist, kept, rejected, mix, dict(contaminated), index_key, fingerprint)
    return JudgedDataset(dataset_id=dataset_id, specialist=specialist, examples=kept, rejected=rejected, report=report)


def _report(
    specialist: str, kept: list[Example], rejected: list[Rejected], mix: dict[str, MixEntry],
    contaminated: dict[str, list[str]], index_key: str | None, config: dict[str, object],
) -> JudgeReport:
    by_generator: dict[str, Counter[str]] = defaultdict(Counter)
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    for e in kept:
        by_generator[e.generator]["kept"] += 1
        by_category[e.category]["kept"] += 1
    for r in rejected:
        by_generator[r.generator or "unknown"][r.reason] += 1
        by_category[r.category or "unknown"][r.reason] += 1
    return JudgeReport(
        specialist=specialist,
        total=len(kept) + len(rejected),
        kept=len(kept),
        dropped=dict(sorted(Counter(r.reason for r in rejected).items())),
        by_generator={g: dict(sorted(c.items())) for g, c in sorted(by_generator.items())},
        by_category={k: dict(sorted(c.items())) for k, c in sorted(by_category.items())},
        mix=mix,
        contaminated={k: sorted(v) for k, v in sorted(contaminated.items())},
        decontamination_index=index_key,
        config=config,
    )


def judge(
    examples: Sequence[Example | dict | bytes], *, specialist: str, config: JudgeConfig,
    tokenizer_dir: Path | str, history: DedupHistory | None = None,
) -> JudgedDataset:
    filters = build_filters(config, specialist, tokenizer_dir)
    batch = filter_batch(examples, filters, max_bytes=config.max_bytes)
    return assemble([batch], specialist=specialist, config=config, history=history)


def judge_file(
    inp: Path, out: Path, *, specialist: str, config: JudgeConfig, tokenizer_dir: Path | str,
    history: Path | None = None,
) -> dict[str, object]:
    """Judge a JSONL file of examples into a dataset directory (what `ouro judge` runs); with a
    `history` file, earlier datasets' examples are dropped and the history is extended."""
    from services.judge.dataset import write_dataset

    if not Path(inp).is_file():
        raise FileNotFoundError(f"{inp} is not a file of examples (JSONL)")
    lines = [line.encode("utf-8") for line in Path(inp).read_text(encoding="utf-8").splitlines() if line.strip()]
    past = DedupHistory.load(history) if history is not None else None
    ds = judge(lines, specialist=specialist, config=config, tokenizer_dir=tokenizer_dir, history=past)
    dataset_id = write_dataset(ds, out)
    if past is not None and history is not None:
        past.update(ds.examples)
        past.save(history)
    return {"dataset_id": dataset_id, "kept": ds.report.kept, "dropped": ds.report.dropped}


def dataset_from_snapshot(specialist: str, snap: Snapshot, rejected: list[Rejected], config: JudgeConfig,
                          index_key: str | None) -> JudgedDataset:
    """The training dataset a corpus snapshot makes (its card names the corpus version)."""
    fingerprint = config.fingerprint()
    dataset_id = content_hash({"specialist": specialist, "ids": sorted(e.id for e in snap.examples),
                               "config": fingerprint, "index": index_key})
    report = _report(specialist, snap.examples, rejected, snap.mix, {}, index_key, fingerprint)
    report = report.model_copy(update={"corpus": {"version": snap.corpus_version, "new": snap.new,
                                                  "replayed": snap.replayed, "cut_by_balance": snap.cut}})
    return JudgedDataset(dataset_id=dataset_id, specialist=specialist, examples=snap.examples, rejected=rejected,
                         report=report)
