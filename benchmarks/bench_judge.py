"""Judge N synthetic examples: the filter stage against its previous path, in the same run (a benchmark, not a test).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_judge.py --n 2000 [--repeats 3] [--tokenizer-dir DIR]
        [--lever-pairs 300] [--int8-pairs 200]   # per-lever coherence timings, int8 vs fp32 (0: skip either)
        [--calibration /tmp/h_orch.jsonl /tmp/h_coder.jsonl]  # harvested examples for the cascade's bands

The baseline is the coherence filter as it was (`CoherenceFilter(window=None)`: sentence-transformers,
first 128 word pieces, int8); the candidate ("now") is the judge's filters as `build_filters` makes
them (the static-table cascade in front of windowed MiniLM: bf16 on AMX CPUs or ONNX Runtime
int8, embedding cache); "minilm_window" is the same with `coherence_cascade=False` (MiniLM scores
every pair). All three run over the same examples `--repeats` times, rotating which goes first;
each speed-up is reported per repeat (median and spread), and every example whose verdict differs
from the previous path's is printed with the scorer that decided it. The cascade's calibration is
printed as counts per band (static keeps, static drops, sent to MiniLM, flips against MiniLM) on
the synthetic examples and on real harvested ones (`--calibration FILE.jsonl ...`: examples from
`ouro harvest`, default the 40 real pairs of tests/judge/coherence_real_pairs.jsonl). The levers
section also times the ONNX Runtime encoders on the same window. Without --tokenizer-dir it uses
the tiny test tokenizer (tests/support/tiny_model.py). The decontamination index is timed cold
(fresh cache dir) and warm (from its on-disk cache).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import compare, machine, repeat, stats, timed  # noqa: E402
from services.judge import JudgeConfig, assemble, build_filters, filter_batch, write_dataset  # noqa: E402
from services.judge import decontaminate as dc  # noqa: E402
from services.judge.batch import BatchVerdicts  # noqa: E402
from services.judge.decontaminate import BENCHMARKS_DIR, decontaminate, load_index  # noqa: E402
from services.judge.dedup import deduplicate  # noqa: E402
from shared.events import Example, Provenance  # noqa: E402
from shared.specialists import profile  # noqa: E402

VOCAB = (
    "the judge filters examples harvester publishes batches trainer loads dataset adapter lora rank "
    "evaluator scores suite promoter champion registry nats stream consumer subject event message "
    "function returns value parser error config file test commit branch model token prompt answer "
    "because therefore when then after before while with without every each some many few"
).split()


def synthetic(n: int, seed: int = 0) -> list[Example]:
    rng = random.Random(seed)
    gsm = [json.loads(x)["question"] for x in (BENCHMARKS_DIR / "gsm8k_test.jsonl").read_text().splitlines()[:50]]
    out: list[Example] = []
    for i in range(n):
        prompt = " ".join(rng.choices(VOCAB, k=rng.randint(8, 30))) + "?"
        response = " ".join(rng.choices(VOCAB, k=rng.randint(20, 200))) + "."
        if i % 50 == 1:
            prompt = gsm[i % len(gsm)]  # contaminated
        elif i % 50 == 2 and len(out) > 1:
            prompt, response = out[-2].prompt, out[-2].response + " indeed"  # near duplicate
        elif i % 50 == 3:
            response = "\x1b[31m" + "[=====>     ] 50%\n" * 30 + "\x1b[0m ok"
        elif i % 50 == 4:
            response += " AKIAIOSFODNN7EXAMPLE"
        category = profile("orchestrator").categories[i % len(profile("orchestrator").categories)]
        if category == "tool_use":
            call = {"name": "search", "arguments": {"query": " ".join(rng.choices(VOCAB, k=3))}}
            response = f"{response}\n<tool_call>{json.dumps(call)}</tool_call>"
        out.append(Example.build(
            specialist="orchestrator", category=category,
            generator=rng.choice(["teacher", "docs", "commits"]),
            messages=[("user", prompt), ("assistant", response)], provenance=Provenance(source="bench"),
        ))
    return out


REAL_PAIRS = Path(__file__).resolve().parents[1] / "tests" / "judge" / "coherence_real_pairs.jsonl"


def load_pairs(path: Path, limit: int) -> list[Example]:
    """Harvested examples (`ouro harvest --out`), or the test file's {prompt, response, category} rows; no FIM."""
    out: list[Example] = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if "messages" in row:
            e = Example.model_validate(row)
        else:
            e = Example.build(specialist=row["specialist"], category=row["category"], generator=row["generator"],
                              messages=[("user", row["prompt"]), ("assistant", row["response"])],
                              provenance=Provenance(source="bench"))
        if e.format != "fim":
            out.append(e)
    random.Random(0).shuffle(out)
    return out[:limit]


def bands(examples: list[Example], cascade, minilm) -> dict[str, int]:
    """How the cascade decides `examples` against MiniLM alone: counts per band and flips."""
    pairs = [(e.prompt, e.response) for e in examples]
    thresholds = [cascade.threshold_for(e.category) for e in examples]
    decided, full = cascade.decide(pairs, thresholds), minilm.score(pairs)
    out = {"pairs": len(pairs), "static_keeps": 0, "static_drops": 0, "to_minilm": 0,
           "flips_vs_minilm": 0, "minilm_drops": 0}
    for (scorer, s), m, t in zip(decided, full, thresholds, strict=True):
        out["to_minilm" if scorer == "minilm" else "static_keeps" if s >= t else "static_drops"] += 1
        out["flips_vs_minilm"] += (s >= t) != (m >= t)
        out["minilm_drops"] += m < t
    return out


def verdicts(batches: list[BatchVerdicts]) -> dict[str, str]:
    """Example id -> "kept" or the reason it was rejected."""
    out = {e.id: "kept" for b in batches for e in b.kept}
    out.update({r.id: r.reason for b in batches for r in b.rejected if r.id})
    return out


def preview(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def coherence_levers(examples: list[Example], config: JudgeConfig, repeats: int) -> dict:
    """Each lever on its own, coherence only, on the same pairs: the previous path first."""
    from services.judge.filters.coherence import CoherenceFilter, Window, cpu_has_fast_bf16

    pairs = [(e.prompt, e.response) for e in examples]
    full = Window(head=config.coherence_max_tokens - 2, tail=0)  # what the previous path reads
    torch_precision = "bf16" if cpu_has_fast_bf16() else "int8" if config.coherence_int8 else "fp32"
    levers = {
        "previous (sentence-transformers, int8, first 126 pieces)":
            CoherenceFilter(window=None, int8=config.coherence_int8, max_seq_length=config.coherence_max_tokens),
        "+ direct BERT, length-bucketed batches (int8, same 126 pieces)":
            CoherenceFilter(window=full, precision="int8", cache=None),
        "+ bf16 where AMX (same 126 pieces)": CoherenceFilter(window=full, precision=torch_precision, cache=None),
        "+ window (default)": CoherenceFilter(cache=None),
        "ONNX Runtime int8, per-channel (same window)": CoherenceFilter(precision="onnx-int8", cache=None),
        "ONNX Runtime fp32 (same window)": CoherenceFilter(precision="onnx-fp32", cache=None),
    }
    for f in levers.values():
        f.score(pairs[:8])  # warm-up: first-call costs out of the timings
    out: dict[str, dict] = {}
    base_runs: list[float] = []
    for label, f in levers.items():
        runs = [timed(lambda f=f: f.score(pairs))[0] for _ in range(repeats)]
        base_runs = base_runs or runs
        precision = getattr(f, "precision", "st-int8" if config.coherence_int8 else "st-fp32")
        out[label] = {**stats(runs), "precision": precision,
                      "window": None if f.window is None else [f.window.head, f.window.tail],
                      "speedup_vs_previous_median": round(statistics.median(base_runs) / statistics.median(runs), 2)}
    return {"pairs": len(pairs), "repeats": repeats, "levers": out}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--lever-pairs", type=int, default=300, help="pairs for the per-lever coherence timings (0: skip)")
    p.add_argument("--int8-pairs", type=int, default=200, help="pairs for int8 vs fp32 on the previous path (0: skip)")
    p.add_argument("--show", type=int, default=30, help="disagreements printed")
    p.add_argument("--tokenizer-dir", default=None)
    p.add_argument("--no-coherence", action="store_true")
    p.add_argument("--calibration", nargs="*", type=Path, default=[REAL_PAIRS],
                   help="harvested examples (JSON lines) to count the cascade's bands on")
    p.add_argument("--calibration-max", type=int, default=1200, help="examples drawn per calibration file")
    args = p.parse_args()
    t: dict[str, object] = {}
    machine_start = machine()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        tok = args.tokenizer_dir
        if tok is None:
            from tests.support.tiny_model import build_tiny_model

            tok = build_tiny_model(tmp / "tiny")
        examples = synthetic(args.n)
        config = JudgeConfig(coherence=not args.no_coherence, cache_dir=tmp / "cache")

        start = time.perf_counter()
        filters = build_filters(config, "orchestrator", tok)
        t["load_models_s"] = round(time.perf_counter() - start, 3)

        def run(fs: list) -> list[BatchVerdicts]:
            return [filter_batch(examples[i : i + args.batch], fs) for i in range(0, len(examples), args.batch)]

        result: dict[str, object] = {"examples": args.n, "machine_start": machine_start}
        if config.coherence:
            from services.judge.filters.coherence import EMBEDDING_CACHE, CoherenceFilter

            new = next(f for f in filters if f.name == "coherence")
            kw = {"threshold": config.coherence_threshold, "thresholds": config.coherence_thresholds,
                  "max_seq_length": config.coherence_max_tokens, "int8": config.coherence_int8}
            old = CoherenceFilter(window=None, **kw)
            window_only = CoherenceFilter(cascade=False, **kw)
            previous = [old if f.name == "coherence" else f for f in filters]
            minilm_window = [window_only if f.name == "coherence" else f for f in filters]
            warm = examples[:16]  # first-call costs (kernel set-up) out of every timing
            for fs in (previous, minilm_window, filters):
                filter_batch(warm, fs)
            new.decided = {"static": 0, "minilm": 0}
            paths = {"previous": previous, "minilm_window": minilm_window, "now": filters}
            times: dict[str, list[float]] = {k: [] for k in paths}
            outs: dict[str, list[BatchVerdicts]] = {}
            load_start = os.getloadavg()[0]
            for r in range(args.repeats):
                order = list(paths)[r % 3:] + list(paths)[: r % 3]  # each path goes first in turn
                for label in order:
                    EMBEDDING_CACHE.clear()  # cold cache every time: the corpus judges each example once
                    took, outs[label] = timed(lambda fs=paths[label]: run(fs))
                    times[label].append(took)
            decided_per_run = {k: v // args.repeats for k, v in new.decided.items()}
            cmp = {"baseline_s": stats(times["previous"]), "candidate_s": stats(times["now"]),
                   "speedup": stats([p / n for p, n in zip(times["previous"], times["now"], strict=True)], 2),
                   "repeats": args.repeats, "loadavg_1m_start_end": [round(load_start, 2),
                                                                     round(os.getloadavg()[0], 2)]}
            base_batches, batches, window_batches = outs["previous"], outs["now"], outs["minilm_window"]
            per_filter_old = per_filter(base_batches)
            per_filter_new = per_filter(batches)
            # the same examples again with the cache kept (a redelivered batch, a re-judged corpus)
            EMBEDDING_CACHE.hits = EMBEDDING_CACHE.misses = 0
            again_s, _ = timed(lambda: run(filters))
            hits, misses = EMBEDDING_CACHE.hits, EMBEDDING_CACHE.misses

            a, b = verdicts(base_batches), verdicts(batches)
            ids = sorted(a)
            differ = [i for i in ids if a[i] != b.get(i)]
            by_id = {e.id: e for e in examples}
            shown = []
            if differ:
                pairs = [(by_id[i].prompt, by_id[i].response) for i in differ]
                s_old, s_win = old.score(pairs), window_only.score(pairs)
                s_new = new.decide(pairs, [new.threshold_for(by_id[i].category) for i in differ])
                for i, so, sw, (scorer, sn) in zip(differ, s_old, s_win, s_new, strict=True):
                    e = by_id[i]
                    shown.append({
                        "id": i[:12], "category": e.category,
                        "threshold": config.coherence_thresholds.get(e.category, config.coherence_threshold),
                        "previous": a[i], "now": b.get(i), "score_previous": round(so, 4),
                        "score_minilm_window": round(sw, 4), "score_now": round(sn, 4), "decided_by": scorer,
                        "prompt": preview(e.prompt, 80), "response": preview(e.response, 120),
                    })
            w = verdicts(window_batches)
            calibration = {"margin": new.margin, "bench_synthetic": bands(examples, new, window_only)}
            for path in args.calibration:
                calibration[path.name] = bands(load_pairs(path, args.calibration_max), new, window_only)
            result.update({
                "filter_stage": {
                    "speedup (previous / now, same examples, per repeat)": cmp["speedup"],
                    "speedup (minilm_window / now, per repeat)":
                        stats([m / n for m, n in zip(times["minilm_window"], times["now"], strict=True)], 2),
                    "speedup (previous / minilm_window, per repeat)":
                        stats([p / m for p, m in zip(times["previous"], times["minilm_window"], strict=True)], 2),
                    "previous_s": cmp["baseline_s"], "minilm_window_s": stats(times["minilm_window"]),
                    "now_s": cmp["candidate_s"],
                    "previous_examples_per_s_median": round(args.n / cmp["baseline_s"]["median"], 1),
                    "minilm_window_examples_per_s_median": round(args.n / statistics.median(times["minilm_window"]), 1),
                    "now_examples_per_s_median": round(args.n / cmp["candidate_s"]["median"], 1),
                    "now_coherence_pairs_decided_by (per run)": decided_per_run,
                    "repeats": cmp["repeats"], "loadavg_1m_start_end": cmp["loadavg_1m_start_end"],
                    "precision_now": new.precision, "window_now": [new.window.head, new.window.tail],
                    "filter_s_previous": per_filter_old, "filter_s_minilm_window": per_filter(window_batches),
                    "filter_s_now": per_filter_new,
                    "same_examples_again_cached_s": round(again_s, 3),
                    "same_examples_again_cache_hit_rate": round(hits / max(hits + misses, 1), 3),
                },
                "agreement": {"examples": len(ids), "same_verdict": len(ids) - len(differ),
                              "share": round(1 - len(differ) / max(len(ids), 1), 4),
                              "disagreements_total": len(differ), "disagreements": shown[: args.show],
                              "minilm_window_vs_previous_same": sum(w.get(i) == a[i] for i in ids),
                              "now_vs_minilm_window_same": sum(w.get(i) == b.get(i) for i in ids)},
                "cascade_calibration (counts per band)": calibration,
            })
            if args.lever_pairs:
                result["coherence_levers"] = coherence_levers(examples[: args.lever_pairs], config, args.repeats)
        if config.coherence and args.int8_pairs:
            # int8 against fp32 on the previous path, same examples (the figure the README used to quote)
            pairs = [(e.prompt, e.response) for e in examples[: args.int8_pairs]]
            fp32 = CoherenceFilter(window=None, int8=False)
            int8 = CoherenceFilter(window=None, int8=True)
            fp32.score(pairs[:8])
            int8.score(pairs[:8])
            q = compare(lambda: fp32.score(pairs), lambda: int8.score(pairs), repeats=args.repeats)
            result[f"coherence_int8_vs_fp32_previous_path_{len(pairs)}"] = {
                "speedup": q["speedup"], "fp32_s": q["baseline_s"], "int8_s": q["candidate_s"]}
        if not config.coherence:
            batches = run(filters)

        kw = {"suites": config.suite_dirs(), "cache_dir": config.cache_dir}
        t["decontam_index_cold_s"], index = timed(lambda: load_index(**kw))

        def warm_index():
            dc._LOADED.clear()  # force the on-disk cache path
            return load_index(**kw)

        t["decontam_index_warm_s"], index = repeat(warm_index, repeats=args.repeats)
        kept = [e for b in batches for e in b.kept]
        t["decontaminate_s"], _ = repeat(lambda: decontaminate(kept, index), repeats=args.repeats)
        t["dedup_s"], _ = repeat(lambda: deduplicate(kept, None), repeats=args.repeats)
        t["assemble_total_s"], ds = repeat(
            lambda: assemble(batches, specialist="orchestrator", config=config, history=None), repeats=args.repeats)
        t["write_dataset_s"], _ = repeat(lambda: write_dataset(ds, tmp / "out"), repeats=args.repeats)

    result.update({
        "kept": ds.report.kept, "dropped": ds.report.dropped,
        "timings_s": {k: round(v, 3) if isinstance(v, float) else v for k, v in t.items()},
        "machine_end": machine(),
    })
    print(json.dumps(result, indent=2, ensure_ascii=False))


def per_filter(batches: list[BatchVerdicts]) -> dict[str, float]:
    out: dict[str, float] = {}
    for b in batches:
        for name, s in b.seconds.items():
            out[name] = round(out.get(name, 0.0) + s, 3)
    return out


if __name__ == "__main__":
    main()
