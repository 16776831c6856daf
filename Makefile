# riskgrade: `make run` installs and runs the whole pipeline; `make test` runs the tests.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Telemetry off (MLflow, DVC) and OpenMP threads that sleep instead of spinning.
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export DVC_NO_ANALYTICS := 1
export ITERATIVE_DO_NOT_TRACK := 1
export OMP_WAIT_POLICY := PASSIVE
# DVC stages call `riskgrade`, so the venv's bin must be on PATH for every target.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast lint format ui metrics serve bench-serving bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[all]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install riskgrade with every extra (pinned by requirements.lock)

run: install ## Install, then run the whole DVC pipeline on the bundled data and show metrics
	$(BIN)/dvc repro
	$(BIN)/dvc metrics show

test: install ## Run the test suite (unit, data, model, pipeline)
	$(BIN)/pytest

test-fast: install ## Run the tests without the slow end-to-end ones
	$(BIN)/pytest -m "not slow"

lint: install ## ruff (lint + format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install ## Format the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

ui: install ## Open the MLflow UI on the project's default store (http://127.0.0.1:5000)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

metrics: install ## Show DVC metrics of the last run
	$(BIN)/dvc metrics show

serve: install ## Run the scoring API on the @champion model (http://127.0.0.1:8000/docs)
	$(BIN)/riskgrade serve

bench-serving: install ## Serving benchmark vs mlflow models serve (needs wrk; ~10 min)
	$(BIN)/python benchmarks/serving/run.py

bench: install ## Benchmarks (slow, on demand): cross-validated AUC of the pipelines
	$(BIN)/python benchmarks/cv_auc.py --repeats 3

clean: ## Remove the virtual environment (keeps data, MLflow store and DVC cache)
	rm -rf $(VENV)
