"""Judge N synthetic examples and print per-stage timings as JSON (a benchmark, not a test).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_judge.py --n 2000 [--tokenizer-dir DIR] [--no-coherence]

Without --tokenizer-dir it uses the tiny test tokenizer (tests/support/tiny_model.py). The decontamination
index is timed cold (fresh cache dir) and warm (from the pickle cache).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.judge import JudgeConfig, assemble, build_filters, filter_batch, write_dataset  # noqa: E402
from services.judge import decontaminate as dc  # noqa: E402
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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--tokenizer-dir", default=None)
    p.add_argument("--no-coherence", action="store_true")
    args = p.parse_args()
    t: dict[str, float] = {}
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
        t["load_models_s"] = time.perf_counter() - start

        start = time.perf_counter()
        batches = [filter_batch(examples[i : i + args.batch], filters) for i in range(0, len(examples), args.batch)]
        t["filter_batch_s"] = time.perf_counter() - start
        per_filter: dict[str, float] = {}
        for b in batches:
            for name, s in b.seconds.items():
                per_filter[name] = round(per_filter.get(name, 0.0) + s, 3)

        # Baseline in the same run: the coherence filter in fp32 against int8 on the same examples.
        if config.coherence:
            from services.judge.filters.coherence import CoherenceFilter

            pairs = [(e.prompt, e.response) for e in examples[:500]]
            for label, int8 in (("coherence_fp32_500_s", False), ("coherence_int8_500_s", True)):
                f = CoherenceFilter(int8=int8)
                start = time.perf_counter()
                f.score(pairs)
                t[label] = time.perf_counter() - start

        kw = {"suites": config.suite_dirs(), "cache_dir": config.cache_dir}
        start = time.perf_counter()
        index = load_index(**kw)
        t["decontam_index_cold_s"] = time.perf_counter() - start
        dc._LOADED.clear()  # force the pickle path
        start = time.perf_counter()
        index = load_index(**kw)
        t["decontam_index_warm_s"] = time.perf_counter() - start

        kept = [e for b in batches for e in b.kept]
        start = time.perf_counter()
        decontaminate(kept, index)
        t["decontaminate_s"] = time.perf_counter() - start
        start = time.perf_counter()
        deduplicate(kept, None)
        t["dedup_s"] = time.perf_counter() - start

        start = time.perf_counter()
        ds = assemble(batches, specialist="orchestrator", config=config, history=None)
        t["assemble_total_s"] = time.perf_counter() - start
        start = time.perf_counter()
        write_dataset(ds, tmp / "out")
        t["write_dataset_s"] = time.perf_counter() - start

    print(json.dumps({
        "examples": args.n, "kept": ds.report.kept, "dropped": ds.report.dropped,
        "timings_s": {k: round(v, 3) for k, v in t.items()}, "filter_s": per_filter,
        "examples_per_s_filter": round(args.n / t["filter_batch_s"], 1),
        "coherence_int8_speedup": round(t["coherence_fp32_500_s"] / t["coherence_int8_500_s"], 2)
        if "coherence_int8_500_s" in t else None,
    }, indent=2))


if __name__ == "__main__":
    main()
