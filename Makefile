# dirtymnist: `make test` and `make demo` work on a fresh machine with Python 3.11.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# papermill runs notebooks with this kernel, so it must point at the project's venv
KERNEL := dirtymnist

.PHONY: install test test-slow demo export clean-nbs bench kernel gpu-wheels docs

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# settings.ini declares the ranges the package supports; constraints.txt pins the exact tested versions of everything
$(STAMP): $(BIN)/python settings.ini setup.py constraints.txt
	@echo "== installing dirtymnist and its pinned dependencies into $(VENV) (first time: a few minutes)"
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	$(BIN)/python tools/kernel.py --name $(KERNEL) >/dev/null
	@touch $(STAMP)

install: $(STAMP)

kernel: $(STAMP)
	$(BIN)/python tools/kernel.py --name $(KERNEL)

test: $(STAMP)
	$(BIN)/python tools/lint.py
	@PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python tools/run_tests.py

test-slow: $(STAMP)
	@PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python tools/run_tests.py --flags "slow"

demo: $(STAMP)
	@PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python tools/demo.py

export: $(STAMP)
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	$(BIN)/python tools/readme.py

bench: $(STAMP)
	@for b in bench/*.py; do [ "$$b" = bench/gpu_check.py ] && continue; echo "== $$b"; $(BIN)/python $$b || exit 1; done

# wheels to carry to a GPU machine without network (installs nothing here); PYVER=3.10 for a GPU machine's Python 3.10
gpu-wheels: $(STAMP)
	$(BIN)/python tools/gpu_wheels.py $(if $(PYVER),--python-version $(PYVER))

# the documentation site in _docs/ (nbdev + Quarto); checks for Quarto first and never installs anything
docs:
	@command -v quarto >/dev/null || { echo "make docs: Quarto is not installed (it is not a pip package): get it from https://quarto.org/docs/get-started/, then run make docs again. Nothing was installed."; exit 1; }
	@test -x $(BIN)/python || { echo "make docs: no $(VENV) yet: run make install first"; exit 1; }
	$(BIN)/python tools/docs.py
