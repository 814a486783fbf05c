# Set-up and everyday commands. `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The exact torch build. Here `torch==2.13.0` resolves to the local CPU wheel; elsewhere it
# is the normal PyPI build for the platform. Override: make install TORCH_SPEC="torch==2.5.1"
TORCH_SPEC ?= torch==2.13.0

.PHONY: install test lint demo serve clean wheelhouse

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

# Wheels for a machine without network (docs/RECIPES.md, "Offline machines"): sideman's own
# wheel and those of its runtime dependencies for Python $(PY_VERSION) on $(PLATFORM), except
# torch and its CUDA libraries, which that machine has. pip resolves the whole set from
# metadata only (a dry run: nothing large is fetched), then downloads the wheels one by one.
# PLATFORM: manylinux (every x86_64 manylinux tag) or one pip platform tag.
PY_VERSION ?= 3.12
PLATFORM ?= manylinux
WHEELHOUSE := build/wheelhouse
MANYLINUX := manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 \
	manylinux2014_x86_64 manylinux_2_12_x86_64 manylinux2010_x86_64 manylinux_2_5_x86_64 \
	manylinux1_x86_64
TARGET := --only-binary=:all: --implementation cp --python-version $(PY_VERSION) \
	$(addprefix --platform ,$(if $(filter manylinux,$(PLATFORM)),$(MANYLINUX),$(PLATFORM)))
# what the wheelhouse leaves out (a regular expression over lower-case project names)
NOT_IN_WHEELHOUSE := sideman|torch|triton|nvidia-.*|cuda-.*

wheelhouse: install
	rm -rf $(WHEELHOUSE) build/wheelhouse-target && mkdir -p $(WHEELHOUSE)
	$(BIN)/pip wheel --quiet --no-deps --wheel-dir $(WHEELHOUSE) .
	$(BIN)/pip install --quiet --dry-run --ignore-installed --target build/wheelhouse-target \
		--report build/wheelhouse-report.json $(TARGET) $(WHEELHOUSE)/sideman-*.whl
	$(BIN)/python -c 'import json, re, sys; \
		found = [i["metadata"] for i in json.load(open(sys.argv[1]))["install"]]; \
		print("\n".join(m["name"] + "==" + m["version"] for m in found \
		                if not re.fullmatch(sys.argv[2], m["name"].lower())))' \
		build/wheelhouse-report.json '$(NOT_IN_WHEELHOUSE)' > build/wheelhouse-requirements.txt
	$(BIN)/pip download --quiet --no-deps --dest $(WHEELHOUSE) $(TARGET) \
		-r build/wheelhouse-requirements.txt
	@echo "$(WHEELHOUSE): $$(ls $(WHEELHOUSE) | wc -l) wheels for Python $(PY_VERSION) on $(PLATFORM)"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
