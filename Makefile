# Fresh machine:  make demo  (set up + package the bundled example)   |   make test  (set up + all tests)
PYTHON ?= python3
VENV ?= .venv
FALLBACK_VENV ?= .venv-fallback
PY := $(VENV)/bin/python

.PHONY: setup setup-fallback demo test test-unit test-fallback test-android bench clean

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

demo: setup
	@mkdir -p out
	$(VENV)/bin/edgepack build examples/shapes_mnv2.ckpt -o out/shapes_mnv2.ptl --force --val examples/images
	$(VENV)/bin/edgepack predict out/shapes_mnv2.ptl examples/images/*/*.png --top-k 3
	$(VENV)/bin/edgepack inspect out/shapes_mnv2.ptl

test: test-unit test-fallback test-android

test-unit: setup
	$(PY) -m pytest -q -p no:cacheprovider tests

test-fallback: setup-fallback
	$(FALLBACK_VENV)/bin/python -m pytest -q -p no:cacheprovider -m fallback tests

test-android:
	bash android_demo/run_jvm_tests.sh

clean:
	rm -rf out .pytest_cache
