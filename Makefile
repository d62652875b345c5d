# segml developer commands. Every target creates .venv (Python 3.11) and installs segml into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PATH := $(CURDIR)/$(BIN):$(PATH)

SCALE_STAMP := $(VENV)/.scale-stamp

.PHONY: install install-scale demo test test-fast test-scale lint bench bench-spark serve notebooks team-mlflow-up team-mlflow-down clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "segml needs Python 3.11+"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install segml with its dev tools

$(SCALE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,scale]"
	touch $(SCALE_STAMP)

install-scale: $(SCALE_STAMP)  ## add pyspark and psycopg2 (needs Java 17 and PostgreSQL to run)

demo: install  ## synthetic data -> full pipeline -> registered model segml-demo (@champion, then @challenger) -> report
	$(BIN)/segml demo

test: install  ## the whole test suite (slow end-to-end tests included; Spark/PostgreSQL: test-scale)
	$(BIN)/python -m pytest -q -m "not scale"

test-fast: install  ## the suite without the slow end-to-end tests
	$(BIN)/python -m pytest -q -m "not slow and not scale"

test-scale: install-scale  ## Spark features/scoring equal the local ones; MLflow on PostgreSQL
	$(BIN)/python -m pytest -q -m scale

lint: install
	$(BIN)/ruff check segml tests benchmarks pipelines

bench: install  ## print the SPEC section 7 figures at 100k customers
	$(BIN)/python benchmarks/bench_generate.py --customers 100000
	$(BIN)/python benchmarks/bench_features.py --customers 100000
	$(BIN)/python benchmarks/bench_segments.py --customers 100000
	$(BIN)/python benchmarks/bench_fit.py --customers 100000
	$(BIN)/python benchmarks/bench_training.py --customers 100000
	$(BIN)/python benchmarks/bench_scoring.py --customers 100000

bench-spark: install-scale  ## Spark features + scoring beside single-machine scoring
	$(BIN)/python benchmarks/bench_spark.py --customers 100000

MODEL ?= segml-demo

serve: install  ## serve MODEL's champion on 127.0.0.1:5001 (default segml-demo, what make demo trains; MODEL=segml-customer for your own)
	MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db} $(BIN)/mlflow models serve -m models:/$(MODEL)@champion --env-manager local --host 127.0.0.1 --port 5001

notebooks: install  ## execute notebooks/*.ipynb in a temporary folder and store them with their outputs
	$(BIN)/python notebooks/refresh.py

team-mlflow-up: install-scale  ## PostgreSQL + MLflow server on loopback; prints the MLFLOW_TRACKING_URI to export (docs/team-mlflow.md)
	$(BIN)/python -m segml.scale.team_mlflow up --dir .team-mlflow --pg-port 5433 --port 5000

team-mlflow-down:  ## stop them; the data stays in .team-mlflow/
	$(BIN)/python -m segml.scale.team_mlflow down --dir .team-mlflow

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
