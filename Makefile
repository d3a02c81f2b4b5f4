# Every target sets itself up: a fresh machine needs only python3 (>= 3.10) and make.
PYTHON ?= python3
VENV ?= .venv
# Optional dependency groups, e.g. `make clean && make bench-gpu EXTRAS=dev,cuda12`.
EXTRAS ?= dev
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench bench-gpu lint headline paper-quick paper clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

demo: $(STAMP)  ## the main job at a CPU-sized default (about a minute on 2 cores)
	$(PY) -m experiments.symmetry_breaking

# Test files run on this many processes (pytest-xdist; a file's tests stay together, so
# module fixtures run once). 2 suits a 2-core machine; 1 runs everything in one process.
TEST_WORKERS ?= 2

test: $(STAMP)  ## the test suite
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

bench: $(STAMP)  ## timings as ratios measured in one process; writes results/bench/bench.json
	$(PY) -m benchmarks.rfm_bench

headline: $(STAMP)  ## the paper's headline: Gaussian x+y mod 61, 60 iterations, 3 seeds
	$(PY) -m experiments.symmetry_breaking --p 61 --iters 60 --seeds 3 --out results/headline

# The paper's experiments (arXiv 2604.00316, §§3–4; docs/science.md §5), in its order; each is `python -m experiments.<name>`.
PAPER_EXPERIMENTS := table1 fig1 pairs_never_help fixed_points other_groups dihedral_subgroups stabilizer \
	features_degenerate features_random features_subgroups orbit_predictions
# Beyond the paper: networks beside RFM, emergence with data, any finite group.
BEYOND_EXPERIMENTS := network_grokking network_trap emergence groups_random groups_summary

paper-quick: $(STAMP)  ## every paper experiment (and the beyond-the-paper ones) CPU-sized into results/quick/<name>, then results/quick/SUMMARY.md
	set -e; for name in $(PAPER_EXPERIMENTS) $(BEYOND_EXPERIMENTS); do \
		$(PY) -m experiments.$$name --quick --out results/quick/$$name; \
	done
	$(PY) -m experiments.summary --results results/quick

# Extra flags of tools/paper_run.py, e.g. PAPER_FLAGS="--git-commit" or "--commit REV".
PAPER_FLAGS ?=

paper: $(STAMP)  ## every experiment paper-sized from one commit into results/<name> (hours on CPU; resumes), then results/REPORT.md
	$(PY) tools/paper_run.py $(PAPER_EXPERIMENTS) $(BEYOND_EXPERIMENTS) $(PAPER_FLAGS)

lint: $(STAMP)
	$(PY) -m ruff check grokrfm experiments benchmarks tests tools
	$(PY) -m ruff format --check grokrfm experiments benchmarks tests tools

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

bench-gpu: $(STAMP)  ## on a machine with a GPU: checks + p = 61 batch of 64 + p = 97, f64 and f32
	$(PY) -m benchmarks.gpu_check
