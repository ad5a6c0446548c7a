# Every target works in a fresh clone with only Python 3.11+ and make: the first one run
# creates .venv and installs monitor with its dev tools into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test check bench eval compiled-wheel clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "monitor needs Python 3.11+, found " + sys.version.split()[0])'
	@# a venv left half-made (e.g. no ensurepip on the first try) is made again
	$(BIN)/python -m pip --version >/dev/null 2>&1 || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## poll the bundled seeds/ offline and print the digest
	$(BIN)/monitor demo

test: $(STAMP)  ## every test (PostgreSQL ones run when MONITOR_TEST_DATABASE_URL is set)
	$(BIN)/python -m pytest -q

check: $(STAMP)  ## lint, types, import contracts, then the tests
	$(BIN)/ruff check monitor tests
	$(BIN)/ruff format --check monitor tests
	$(BIN)/mypy --strict monitor
	$(BIN)/mypy --strict -p tests
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: $(STAMP)  ## benchmarks in tests/bench/, each prints a table
	@set -e; for f in tests/bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f $(BENCH_ARGS); done

eval: $(STAMP)  ## evaluations on labelled real news in tests/eval/, each prints a table
	@set -e; for f in tests/eval/eval_*.py; do echo "== $$f"; $(BIN)/python $$f; done

# Optional: the same package with the hot paths of extraction and dedup compiled by mypyc
# (setup.py lists them; needs a C compiler). Built from a clean build/ so that no compiled
# module is left there for a later pure build to pick up.
compiled-wheel: $(STAMP)  ## optional: a wheel whose extraction and dedup mypyc compiled, in dist/
	rm -rf build
	MONITOR_MYPYC=1 $(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w dist .
	rm -rf build
	@ls dist/monitor-*-cp*.whl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
