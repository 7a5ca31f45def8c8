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

.PHONY: setup demo test lint bench tiny-model tiny-install tiny-release clean

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

# Retrain the embedded model from scratch in three stages, Muon in each (about 60-85 minutes on 2 CPU threads, by the machine's
# speed): the recipe of chainlab/models/weights/chainlab-tiny/MODEL_CARD.md, into runs/chainlab-tiny. Each stage is a file target
# (its training_log.json, written last), so a second `make tiny-model` after an interruption skips the finished stages and the
# interrupted one resumes from its checkpoint; `rm -rf runs/chainlab-tiny*` starts over.
tiny-model: runs/chainlab-tiny/training_log.json

runs/chainlab-tiny-base/training_log.json: | $(STAMP)
	$(OFFLINE) $(BIN)/chainlab train-tiny --out runs/chainlab-tiny-base --examples 52000 --seed 1 --optimizer muon \
		--threads 2 --compile --bf16 auto --bf16-from-step 1000

runs/chainlab-tiny-stage2/training_log.json: runs/chainlab-tiny-base/training_log.json
	$(OFFLINE) $(BIN)/chainlab train-tiny --out runs/chainlab-tiny-stage2 --init-from runs/chainlab-tiny-base \
		--examples 20000 --lr 5e-4 --seed 1 --wide-share 1 --mark-weight 4 \
		--value-format pairs --judge-other-share 0.5 --propose-format restated --optimizer muon --threads 2 --compile --bf16 auto

runs/chainlab-tiny/training_log.json: runs/chainlab-tiny-stage2/training_log.json
	$(OFFLINE) $(BIN)/chainlab train-tiny --out runs/chainlab-tiny --init-from runs/chainlab-tiny-stage2 \
		--examples 36000 --lr 1e-3 --seed 5 --wide-share 1 --mark-weight 4 \
		--value-format pairs --judge-other-share 0.5 --propose-format restated \
		--judge-low-share 0.3 --judge-correct-share 0.7 --judge-format compared \
		--mix io=0.04,cot=0.1,propose=0.24,value=0.28,judge=0.34,lists=0.3 --cot-format expand --optimizer muon \
		--threads 2 --compile --bf16 auto

# Install runs/chainlab-tiny as the packaged chainlab-tiny, rebuild its adapter and GPTQ variant on it,
# measure all three and rewrite the model card (about 40 minutes on 2 CPU threads; results in runs/release).
R := runs/release
tiny-install: $(STAMP)
	$(OFFLINE) $(BIN)/chainlab install-tiny --model runs/chainlab-tiny
	$(OFFLINE) $(BIN)/chainlab eval-tiny --model chainlab-tiny --judge-answers 3 --out $(R)/skills.json --threads 2 \
		--log-samples $(R)/samples.jsonl
	$(OFFLINE) $(BIN)/chainlab arith-data --out runs/arith.jsonl --n 24000 --overwrite
	$(OFFLINE) $(BIN)/chainlab finetune --model chainlab-tiny --data runs/arith.jsonl --out runs/chainlab-tiny-arith \
		--rank 16 --alpha 32 --epochs 1 --threads 2 --overwrite
	$(OFFLINE) $(BIN)/chainlab quantize --model chainlab-tiny --bits 4 --group-size 32 --out runs/chainlab-tiny-gptq --overwrite
	$(OFFLINE) $(BIN)/chainlab install-tiny --adapter runs/chainlab-tiny-arith --gptq runs/chainlab-tiny-gptq
	$(OFFLINE) $(BIN)/chainlab eval-tiny --model chainlab-tiny-gptq --judge-answers 3 --out $(R)/skills-gptq.json --threads 2 \
		--log-samples $(R)/samples-gptq.jsonl
	$(OFFLINE) $(BIN)/chainlab eval-tiny --skills arith --out $(R)/arith-base.json --threads 2
	$(OFFLINE) $(BIN)/chainlab eval-tiny --skills arith --adapter chainlab-tiny-arith --out $(R)/arith-adapter.json --threads 2
	$(OFFLINE) $(BIN)/chainlab compare --model chainlab-tiny --task game24 \
		--strategies io,cot,cot-sc,cot-composed,cot-sc-composed,tot,tot-paper \
		--out $(R)/g24 --overwrite
	$(OFFLINE) $(BIN)/chainlab compare --model chainlab-tiny --adapter chainlab-tiny-arith --task arith --limit 200 \
		--strategies io,cot,cot-sc,verifier --strategy-opts verifier.k=10 cot-sc.temperature=0.3 \
		verifier.temperature=0.3 --out $(R)/arith-compare --overwrite
	$(OFFLINE) $(BIN)/chainlab model-card --dir chainlab/models/weights/chainlab-tiny --skills $(R)/skills.json \
		--gptq-skills $(R)/skills-gptq.json --arith-base $(R)/arith-base.json \
		--arith-adapter $(R)/arith-adapter.json --compare $(R)/g24/summary.json \
		--arith-compare $(R)/arith-compare/summary.json

# Everything from nothing: train (tiny-model), then install, rebuild and measure (tiny-install).
tiny-release: tiny-model
	$(MAKE) tiny-install

clean:
	rm -rf $(VENV) build *.egg-info
