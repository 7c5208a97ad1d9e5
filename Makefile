# Two entry points for a fresh machine (see README.md):
#   make demo   sets up .venv and runs the embedded demo end to end (snakemake --cores 2)
#   make test   sets up .venv with the test extra and runs the test suite
# torch is pinned to the CPU build here; pyproject.toml only gives users a range.
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0

$(VENV)/.demo-installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e .
	touch $@

# bpnet-lite depends on modisco 2.x, whose files take the package name modiscolite over
# modisco-lite 3.0's: 3.0 is put back, so that it is the TF-MoDISco the tests compare against
$(VENV)/.test-installed: pyproject.toml $(VENV)/.demo-installed
	$(PY) -m pip install -q "$(TORCH)" -e ".[test]"
	$(PY) -m pip install -q --force-reinstall --no-deps "modisco-lite>=3.0,<4"
	touch $@

.PHONY: demo test lint
demo: $(VENV)/.demo-installed
	$(VENV)/bin/snakemake --cores 2

test: $(VENV)/.test-installed
	$(PY) -m pytest -q

lint: $(VENV)/.test-installed
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/snakefmt --check .
