# One command each: `make demo` (set up + main job on bundled data), `make test` (set up + test suite).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint bench clean web

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/skyfence run --example ukraine-crimea --out out/ukraine-crimea

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -n 2 -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/propagate.py

# the web page's assets (src/skyfence/viz/web/, committed) from web/ with Node.js and npm
web:
	cd web && npm ci && npm run build

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
