# Every target sets itself up: a fresh machine needs only python3 (>= 3.10) and make.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench lint headline clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## the main job at a CPU-sized default (about a minute on 2 cores)
	$(PY) -m experiments.symmetry_breaking

test: $(STAMP)  ## the test suite
	$(PY) -m pytest -q

bench: $(STAMP)  ## timings as ratios measured in one process; writes results/bench/bench.json
	$(PY) -m benchmarks.rfm_bench

headline: $(STAMP)  ## the paper's headline: Gaussian x+y mod 61, 60 iterations, 3 seeds
	$(PY) -m experiments.symmetry_breaking --p 61 --iters 60 --seeds 3 --out results/headline

lint: $(STAMP)
	$(PY) -m ruff check grokrfm experiments benchmarks tests
	$(PY) -m ruff format --check grokrfm experiments benchmarks tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
