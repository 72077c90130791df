# Prospector developer commands. `make demo` and `make test` work on a fresh Debian machine
# with Python >= 3.10; they create .venv and reuse it (and the apt packages) on later runs.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
OUT    ?= out/demo

.PHONY: demo test pytest lint system-deps clean help

help:
	@echo "make demo   - set up .venv and rank the embedded Utah sample into $(OUT)/"
	@echo "make test   - set up .venv with test extras and system packages, lint, run pytest"
	@echo "make lint   - ruff (lint + format check), mypy and the import contracts (lint-imports)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the packaging metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/prospector demo --out $(OUT)

system-deps:
	@sh .ci/system-deps.sh

lint: $(VENV)/.installed-test
	$(BIN)/ruff check prospector tests benchmarks tools noxfile.py
	$(BIN)/ruff format --check prospector tests benchmarks tools noxfile.py
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: $(VENV)/.installed-test system-deps
	$(BIN)/python -m pytest

test: lint pytest

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
