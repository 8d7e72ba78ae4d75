# jobmatch — a newcomer runs `make run` or `make test`; both set up .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLE := var/sample
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test lint typecheck sample train serve bench clean

install: $(STAMP)

# Idempotent: re-runs only when pyproject.toml changes. torch first, CPU build, so that
# sentence-transformers does not pull the CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

sample: install
	$(BIN)/jobmatch synth --workers 3000 --employers 120 --weeks 40 --seed 7 --out $(SAMPLE)
	$(BIN)/jobmatch import $(SAMPLE)

train: install
	$(BIN)/jobmatch train --seed 7
	$(BIN)/jobmatch recommend --all --precompute --jobs 2

serve: install
	$(BIN)/jobmatch serve --host 127.0.0.1 --port 8000

run: sample train
	$(BIN)/jobmatch keys create --role admin --name make-run
	$(BIN)/jobmatch serve --host 127.0.0.1 --port 8000

lint: install
	$(BIN)/ruff format --check matcher training service tests bench
	$(BIN)/ruff check matcher training service tests bench

typecheck: install
	$(BIN)/mypy

test: install lint typecheck
	bash scripts/ensure_browser.sh || true
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/synth_bench.py
	$(BIN)/python bench/import_bench.py
	$(BIN)/python bench/occupation_bench.py
	$(BIN)/python bench/occupation_noisy_bench.py
	$(BIN)/python bench/eligibility_bench.py
	$(BIN)/python bench/quality_bench.py
	$(BIN)/python bench/recommend_bench.py
	$(BIN)/python bench/train_bench.py
	$(BIN)/python bench/serve_bench.py
	$(BIN)/python bench/match_bench.py
	$(BIN)/python bench/truth_bench.py
	$(BIN)/python bench/calibration_bench.py
	$(BIN)/python bench/embedder_bench.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
