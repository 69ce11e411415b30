# tipnlp: every command a user or CI needs.  `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LS_VENV := .venv-labelstudio
SHARED := ../shared
MODEL  ?= default
OUT    ?= out

# Quiet, offline, embedded defaults (see README "Environment").
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ORT_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_LOGGING_LEVEL ?= WARNING
export DASK_LOGGING__DISTRIBUTED ?= warning
export PREFECT_HOME ?= $(CURDIR)/.cache/prefect
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180
# Prefect creates PREFECT_HOME but not its parents: make .cache/ exist first.
$(shell mkdir -p $(CURDIR)/.cache)

STAMP := $(VENV)/.installed
MODEL_WEIGHTS := models/$(MODEL)/model.safetensors

.PHONY: help setup model eval run test test-fast lint bench bench-extract bench-active learning-curve \
        labelstudio report clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install tipnlp with its pins (idempotent)

$(MODEL_WEIGHTS): | $(STAMP)
	$(BIN)/tipnlp train --name $(MODEL)

model: $(STAMP) ## Fine-tune the default tagger from the bundled base model
	$(BIN)/tipnlp train --name $(MODEL)

eval: $(MODEL_WEIGHTS) ## Rules vs TF-IDF vs fine-tuned model on the gold dev set
	$(BIN)/tipnlp evaluate --gold $(SHARED)/data/gold/dev.jsonl --compare --model $(MODEL)

run: $(MODEL_WEIGHTS) ## Scrape, tag and store the default corpus, then write the report
	$(BIN)/tipnlp run corpora/default.yaml --out $(OUT) --report $(OUT)/report.html

test: $(STAMP) ## Run the whole test suite
	$(BIN)/python -m pytest

test-fast: $(STAMP) ## Tests without the slow/model/flow markers
	$(BIN)/python -m pytest -m "not slow and not model and not flow and not labelstudio and not browser"

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check src pipelines tests benchmarks
	$(BIN)/ruff format --check src pipelines tests benchmarks
	$(BIN)/mypy

bench: $(MODEL_WEIGHTS) ## Inference speed table (sentences/s) and peak memory
	$(BIN)/python benchmarks/bench_inference.py --model $(MODEL)

bench-extract: $(STAMP) ## Extraction F1 and pages/s on the article-extraction benchmark
	$(BIN)/python benchmarks/bench_extract.py --data $(SHARED)/data/article-extraction-benchmark

bench-active: $(STAMP) ## Active learning vs random sampling, three simulated rounds
	$(BIN)/python benchmarks/bench_active.py --gold $(SHARED)/data/gold

learning-curve: $(STAMP) ## Dev macro-F1 against the share of training documents (about 25 min)
	$(BIN)/python benchmarks/learning_curve.py --gold $(SHARED)/data/gold

$(LS_VENV)/.installed:
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --quiet --upgrade pip
	# sentry-sdk 3 drops an option Label Studio 1.23.2 passes at start-up.
	$(LS_VENV)/bin/python -m pip install --quiet 'label-studio==1.23.2' 'label-studio-sdk==2.1.2' 'sentry-sdk<3'
	@touch $@

labelstudio: $(LS_VENV)/.installed ## Build Label Studio in its own venv (.venv-labelstudio)

report: $(STAMP) ## Write out/report.html from an existing output folder
	$(BIN)/tipnlp report $(OUT) --html $(OUT)/report.html

clean: ## Remove outputs and caches (keeps .venv and models)
	rm -rf $(OUT) .cache .pytest_cache .mypy_cache .ruff_cache
