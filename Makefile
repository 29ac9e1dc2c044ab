# Two commands set up everything on a fresh machine: `make site` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install site test bench bench-asv serve clean examples lint nightly

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Git keeps no mtimes: regenerate the (deterministic) examples once, so that their
# heartbeats and file times are the ones they were written with, not the checkout's.
EXAMPLES_STAMP := $(VENV)/.examples

$(EXAMPLES_STAMP): $(STAMP) examples/generate_examples.py examples/example_runs.py examples/example_logs.py examples/example_jobs.py examples/example_sessions.py examples/example_serving.py
	$(BIN)/python examples/generate_examples.py
	touch $(EXAMPLES_STAMP)

site: install $(EXAMPLES_STAMP)
	$(BIN)/sitegen build

# The browser tests need Chromium: Debian's package is installed when apt-get may be used, else they skip.
test: install
	@sh tests/install_debian_package.sh chromium "the browser tests (they skip)" || true
	$(BIN)/python -m pytest -q --durations=15

lint: install
	$(BIN)/ruff check sitegen tests benchmarks examples

# Every figure of issue 16 against its target (BENCHMARKS.md, "Reproduce with"). Hugo is
# Debian's package, installed when apt-get may be used; asv only after `make bench-asv`.
bench: install
	@sh tests/install_debian_package.sh hugo "the full build's comparison with Hugo" || true
	$(BIN)/python benchmarks/bench_build.py --markdown bench-out/results.md

# asv 0.6.6 in a venv of its own (git-ignored), then sitegen against `asv publish` on the same history.
ASV_VENV := benchmarks/.venv-asv
$(ASV_VENV)/bin/asv:
	$(PYTHON) -m venv $(ASV_VENV)
	$(ASV_VENV)/bin/python -m pip install --quiet asv==0.6.6

bench-asv: install $(ASV_VENV)/bin/asv
	$(BIN)/python benchmarks/bench_asv.py

serve: install $(EXAMPLES_STAMP)
	$(BIN)/sitegen serve --watch

examples: install
	$(BIN)/python examples/generate_examples.py
	touch $(EXAMPLES_STAMP)

clean:
	rm -rf site bench-out .pytest_cache

# The whole loop on one machine: demo data generated, a session of Ray Data entries run (each on
# its own Ray head), MLflow (a local store under nightly-out/mlruns) filled, the site built.
NIGHTLY := nightly-out
nightly: install
	$(BIN)/python examples/nightly/generate_data.py $(NIGHTLY)
	SITEGEN_NIGHTLY_DIR=$(abspath $(NIGHTLY)) $(BIN)/sitegen run --matrix examples/nightly/matrix.yaml \
		--datasets $(NIGHTLY)/datasets.json --sink mlflow --out $(NIGHTLY)/site
