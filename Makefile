# The two commands that matter:  make book  and  make test.
# Both create or update .venv from requirements.txt (+ requirements-nodeps.txt, installed with
# --no-deps) first; that step is skipped when the stamp file is newer than the requirement files.
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.robustlab-stamp
PROFILE ?= quick
ONLY    ?=
PARAMS  ?=
PYTEST_ARGS ?=

# Data: $ROBUSTLAB_DATA if set, else ../shared/data when it exists, else ./data (see README).
ifeq ($(strip $(ROBUSTLAB_DATA)),)
  ifneq ($(wildcard ../shared/data),)
    export ROBUSTLAB_DATA := $(abspath ../shared/data)
  endif
endif
export MPLBACKEND ?= Agg
export PYTHONUNBUFFERED := 1

.PHONY: book test lint venv lab site clean-book help

help:
	@echo "make book   - venv, run every notebook ($(PROFILE) profile) with papermill, build _build/html/index.html"
	@echo "make test   - venv, lint-imports (the layers), then the test suite"
	@echo "make lint   - venv, ruff check src tests benchmarks, lint-imports (the layers, pyproject.toml)"
	@echo "make lab    - venv, open the notebooks in JupyterLab"
	@echo "make site   - rebuild the site from the executed notebooks (no execution)"
	@echo "variables: PROFILE=tiny|quick|cpu|paper ONLY=01_data,13_summary PARAMS='epochs=5 seed=1' ROBUSTLAB_DATA=..."

venv: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

book: $(STAMP)
	$(PY) -m robustlab.book --profile $(PROFILE) $(if $(ONLY),--only $(ONLY)) $(foreach p,$(PARAMS),--param $(p))

site: $(STAMP)
	$(PY) -m robustlab.book --build-only

# pytest exits 5 when it collected no tests; that is not a failure of the suite.
test: $(STAMP)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean-book:
	rm -rf _build book/executed
