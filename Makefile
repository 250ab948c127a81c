# Setup and the two jobs the README starts with. `make demo` and `make test` each build the virtual
# environment first (once; again only when pyproject.toml or constraints.txt change).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup browser demo test test-avx2 bench

setup: $(STAMP)

# The browser tests drive Debian's Chromium through Playwright (never `playwright install`).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# constraints.txt pins the local CPU build of torch: an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test]'
	touch $@

# Index the bundled demo corpus with the shipped model (once), then serve the UI on http://127.0.0.1:5000/.
demo: $(STAMP)
	$(PY) manage.py demo

# The whole suite, spread over the cores (pytest-xdist), then again as on a CPU without AVX-512 or bf16
# (AMD EPYC machines of this kind): PyTorch, oneDNN and MKL kept to AVX2 and "auto" precision at
# float32, so a test that holds only on one kind of CPU fails here, not in someone else's CI. That second
# run leaves out the browser tests and the `commands` tests (child processes: what they check is exit
# codes, messages and files, and the numerics they run are the in-process tests' own), which are about
# half of the suite's time. On a CPU without AVX-512 the first run already takes those paths, and a second
# would only double CI's time.
test: $(STAMP) browser
	$(PY) -m pytest -q -n auto
	@if grep -q avx512 /proc/cpuinfo 2>/dev/null; then $(MAKE) --no-print-directory test-avx2; \
	else echo "this CPU has no AVX-512: the run above already took the AVX2 and float32 paths"; fi

AVX2_ONLY := ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 BERTSEARCH_CPU_BF16=0
test-avx2: $(STAMP)
	$(AVX2_ONLY) $(PY) -m pytest -q -n auto -p no:cacheprovider --ignore=tests/e2e -m "not commands"

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) bench/encode.py
