# Every target sets itself up: a local .venv with the provider (editable) and its dev tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv lint format test demo airflow bench fault-suite clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,distributed]"
	touch $@

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_aep dags_examples tests benchmarks scripts
	$(BIN)/ruff format --check airflow_provider_aep dags_examples tests benchmarks scripts
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix airflow_provider_aep dags_examples tests benchmarks scripts
	$(BIN)/ruff format airflow_provider_aep dags_examples tests benchmarks scripts

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# make demo SOURCE=salesforce runs the Salesforce onboarding instead of HubSpot's.
SOURCE ?= hubspot
demo: $(STAMP)
	$(BIN)/python scripts/demo.py --source $(SOURCE)

airflow: $(STAMP)
	$(BIN)/python scripts/airflow_local.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks

fault-suite: $(STAMP)
	AEP_FAULT_TRIALS=200 $(BIN)/python -m pytest tests/reliability -m reliability -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache test-artifacts .airflow-local
