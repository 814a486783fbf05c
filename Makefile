# Set-up and everyday commands. `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The exact torch build. Here `torch==2.13.0` resolves to the local CPU wheel; elsewhere it
# is the normal PyPI build for the platform. Override: make install TORCH_SPEC="torch==2.5.1"
TORCH_SPEC ?= torch==2.13.0

.PHONY: install test lint demo serve clean

$(BIN)/sideman: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	@# setuptools says "Editable installation." (mind folders named like the package) on
	@# every editable install with a package-dir map like ours; nothing to act on, so hidden.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install -q -e ".[dev]"
	@touch $(BIN)/sideman

install: $(BIN)/sideman

# ruff everywhere; mypy on every package, read as the package it installs as: pyproject's
# package-dir map (sideman.server = server/, ...), which mypy does not read, as a tree of links
# in build/mypy, so imports across packages are checked too ([tool.mypy] in pyproject.toml).
PARTS := server client cli models training eval bench
MYPY_TREE := build/mypy/sideman

lint: install
	$(BIN)/ruff check .
	@rm -rf $(MYPY_TREE) && mkdir -p $(MYPY_TREE)
	@ln -s $(addprefix ../../../,$(wildcard sideman/*.py)) $(MYPY_TREE)/
	@for part in $(PARTS); do ln -s ../../../$$part $(MYPY_TREE)/$$part; done
	$(BIN)/mypy

test: install lint
	$(BIN)/pytest

# The main job: the server with the embedded default model, and a demo session through it.
demo: install
	$(BIN)/sideman demo

serve: install
	$(BIN)/sideman serve

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
