# Setup and the two jobs the README starts with. `make demo` and `make test` each build the virtual
# environment first (once; again only when pyproject.toml or constraints.txt change).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench

setup: $(STAMP)

# constraints.txt pins the local CPU build of torch: an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

# Until the search app lands: encode a few sentences with the shipped model.
demo: $(STAMP)
	$(PY) manage.py encode \
		"How do vaccines train the immune system?" \
		"Vaccination teaches the body to recognise a pathogen before an infection." \
		"The stock market fell sharply on Tuesday."

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) bench/encode.py
