# chainlab: `make demo` runs the strategy comparison, `make test` runs the test suite.
# Both create .venv and install the project into it when needed (a second run installs nothing).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.chainlab-installed
OFFLINE := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# Benchmark data lives beside the project (../shared/data) when it is there.
CHAINLAB_DATA ?= $(shell [ -d ../shared/data ] && cd ../shared/data && pwd)
export CHAINLAB_DATA

.PHONY: setup demo test lint bench tiny-model clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@[ -x $(BIN)/python ] || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# the CPU wheel of torch first, so nothing pulls a CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(OFFLINE) $(BIN)/chainlab demo

test: $(STAMP)
	$(OFFLINE) $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check chainlab tests benchmarks examples

bench: $(STAMP)
	$(OFFLINE) $(BIN)/python benchmarks/bench_llm.py

# Retrain the embedded model from scratch (90-100 minutes on 2 CPU threads, by the machine's speed): the recipe of
# chainlab/models/weights/chainlab-tiny/MODEL_CARD.md, into runs/chainlab-tiny.
tiny-model: $(STAMP)
	$(OFFLINE) $(BIN)/chainlab train-tiny --out runs/chainlab-tiny-base --examples 100000 --threads 2
	$(OFFLINE) $(BIN)/chainlab train-tiny --out runs/chainlab-tiny --init-from runs/chainlab-tiny-base \
		--examples 28000 --lr 5e-4 --seed 1 --wide-share 1 --mark-weight 4 \
		--value-format pairs --judge-other-share 0.5 --threads 2 --compile

clean:
	rm -rf $(VENV) build *.egg-info
