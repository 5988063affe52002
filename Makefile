# Two entry points for a fresh machine (see README, Quick start):
#   make demo   install decaudit into .venv and audit the embedded sandbox network (offline)
#   make test   install decaudit with its test tools into .venv and run lint, types and tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck pytest goldens clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/decaudit demo

lint: $(VENV)/.installed
	$(BIN)/ruff check auditor checks tests bench
	$(BIN)/ruff format --check auditor checks tests bench

typecheck: $(VENV)/.installed
	$(BIN)/mypy

pytest: $(VENV)/.installed
	$(BIN)/python -m pytest

test: lint typecheck pytest

goldens: $(VENV)/.installed
	$(BIN)/python -m pytest tests/test_goldens.py --update-goldens

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
