# Every target sets itself up: a local .venv with the provider (editable) and its dev tools.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

# The latest Airflow CI runs (.venv: every test, the demo, the benchmarks) and the lowest supported one,
# pyproject's floor (`make test-lowest`, part of `make test`); the pins of each sit in .ci/constraints/.
LATEST_AIRFLOW := 3.3.2
LATEST_CONSTRAINTS := .ci/constraints/airflow-3.3.txt
LOWEST_AIRFLOW := 3.1.8
LOWEST_VENV := .venv-airflow-3.1
LOWEST_BIN := $(LOWEST_VENV)/bin
LOWEST_STAMP := $(LOWEST_VENV)/.installed-stamp
LOWEST_CONSTRAINTS := .ci/constraints/airflow-3.1.txt

.PHONY: venv lint format test test-latest test-lowest demo airflow bench fault-suite clean

$(STAMP): pyproject.toml emulator/pyproject.toml $(LATEST_CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "apache-airflow==$(LATEST_AIRFLOW)" -c $(LATEST_CONSTRAINTS) -e ./emulator -e ".[dev,distributed]"
	touch $@

venv: $(STAMP)

# pip must keep the pinned Airflow (a conflict fails the install instead of upgrading it); the check after it
# fails if the installed Airflow is not exactly the floor the provider declares.
$(LOWEST_STAMP): pyproject.toml emulator/pyproject.toml $(LOWEST_CONSTRAINTS)
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_BIN)/python -m pip install --quiet --upgrade pip
	$(LOWEST_BIN)/python -m pip install --quiet "apache-airflow==$(LOWEST_AIRFLOW)" -c $(LOWEST_CONSTRAINTS) -e ./emulator -e ".[dev]"
	$(LOWEST_BIN)/python scripts/check_airflow_floor.py $(LOWEST_AIRFLOW)
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check airflow_provider_aep emulator dags_examples tests benchmarks scripts
	$(BIN)/ruff format --check airflow_provider_aep emulator dags_examples tests benchmarks scripts
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix airflow_provider_aep emulator dags_examples tests benchmarks scripts
	$(BIN)/ruff format airflow_provider_aep emulator dags_examples tests benchmarks scripts

# Every test on the latest Airflow and, beside it, the version-independent part again on the lowest: two
# processes for two cores, since the system tests spend most of their time waiting on Airflow's own processes.
# Each one's output is printed in one piece when it ends (--output-sync).
test: lint $(LOWEST_STAMP)
	$(MAKE) --no-print-directory -j2 --output-sync=target test-latest test-lowest

test-latest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# On the lowest supported Airflow: the unit and dag.test() tests, then the connection forms as a real api-server's
# hook metadata shows them (3.1 reads them from the hooks' methods). The rest runs on the latest, and so do the
# emulator's own tests (no Airflow in them), the benchmarks, which measure it (their workers use 3.2+ DagBag APIs),
# and the `make demo` test (the demo always runs in .venv; the same DAGs run through dag.test() here).
test-lowest: $(LOWEST_STAMP)
	$(LOWEST_BIN)/python -m pytest -m "not system and not browser and not reliability" tests \
		--ignore=tests/benchmarks --ignore=tests/test_demo.py $(PYTEST_ARGS)
	$(LOWEST_BIN)/python -m pytest tests/system/test_airflow_ui_api.py -k hook_meta $(PYTEST_ARGS)

# make demo SOURCE=salesforce runs the Salesforce onboarding instead of HubSpot's; QUERY=1 then runs the Query
# Service example (dags_examples/query_service.py) on the landed contacts and prints the row counts.
SOURCE ?= hubspot
# BATCH=1 runs the Batch Ingestion example instead (dags_examples/batch_ingestion.py): a generated export loaded
# into a dataset made from its columns, twice; it prints each batch's id, status and counts.
demo: $(STAMP)
	$(if $(filter-out 0,$(BATCH)),$(BIN)/python scripts/demo_batch.py,$(BIN)/python scripts/demo.py --source $(SOURCE) $(if $(filter-out 0,$(QUERY)),--query))

airflow: $(STAMP)
	$(BIN)/python scripts/airflow_local.py

# The peers (benchmarks/peers/) need the bench extra (aepp is heavy, so it is not in the dev set).
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet "apache-airflow==$(LATEST_AIRFLOW)" -c $(LATEST_CONSTRAINTS) -e ./emulator -e ".[dev,bench]"
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

fault-suite: $(STAMP)
	AEP_FAULT_TRIALS=200 $(BIN)/python -m pytest tests/reliability -m reliability -q

clean:
	rm -rf $(VENV) $(LOWEST_VENV) build *.egg-info .pytest_cache .ruff_cache test-artifacts .airflow-local
