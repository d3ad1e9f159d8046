# Fresh machine:  make demo  (set up + package the bundled example)   |   make test  (set up + all tests)
PYTHON ?= python3
VENV ?= .venv
FALLBACK_VENV ?= .venv-fallback
COMPAT_VENV ?= .venv-compat
PY := $(VENV)/bin/python

.PHONY: setup setup-fallback setup-compat setup-bench demo test test-unit test-fallback test-compat test-android bench clean

setup: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $@

# torch 2.14.1 x86 wheels have no XNNPACK: this environment exercises the portable optimizer path.
setup-fallback: $(FALLBACK_VENV)/.installed
$(FALLBACK_VENV)/.installed: requirements-fallback.txt pyproject.toml
	$(PYTHON) -m venv $(FALLBACK_VENV)
	$(FALLBACK_VENV)/bin/pip install -q -r requirements-fallback.txt
	$(FALLBACK_VENV)/bin/pip install -q --no-deps -e .
	touch $@

# torch 2.1.0 = the lite interpreter inside pytorch_android_lite 2.1.0, the last Android release:
# every artifact kind edgepack produces must load and run there (docs/compat.md).
setup-compat: $(COMPAT_VENV)/.installed
$(COMPAT_VENV)/.installed: compat/requirements.txt
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/pip install -q -r compat/requirements.txt
	touch $@

setup-bench: setup
	$(VENV)/bin/pip install -q -r benchmarks/requirements.txt

demo: setup
	@mkdir -p out
	$(VENV)/bin/edgepack build examples/shapes_regnet.ckpt -o out/shapes_regnet.ptl --force --val examples/images
	$(VENV)/bin/edgepack predict out/shapes_regnet.ptl examples/images/*/*.png --top-k 3
	$(VENV)/bin/edgepack inspect out/shapes_regnet.ptl

test: test-unit test-fallback test-compat test-android

test-unit: setup
	$(PY) -m pytest -q -p no:cacheprovider tests

test-fallback: setup-fallback
	$(FALLBACK_VENV)/bin/python -m pytest -q -p no:cacheprovider -m fallback tests

test-compat: setup setup-compat
	$(PY) -m pytest -q -p no:cacheprovider -m compat tests

test-android:
	bash android_demo/run_jvm_tests.sh

# Side-by-side runtime comparison (about 10 minutes on 2 cores); results go to benchmarks/results/.
bench: setup-bench
	$(PY) benchmarks/run_benchmarks.py

clean:
	rm -rf out .pytest_cache
