# Fresh machine:  make demo  (set up + package the bundled examples)   |   make test  (set up + all tests)
PYTHON ?= python3
VENV ?= .venv
FALLBACK_VENV ?= .venv-fallback
COMPAT_VENV ?= .venv-compat
WHEEL_VENV ?= .venv-wheel
WHEEL_DIR ?= build/wheel
PY := $(VENV)/bin/python
# CI's disk is small: three torch installs are several GB each, and pip's wheel cache would keep a
# second copy of every CUDA wheel it downloads. Nothing here runs on a GPU, so also drop triton
# (torch.compile's GPU kernel compiler, 0.3-0.7 GB per environment; torch imports it only if present).
PIP_INSTALL = install -q --no-cache-dir
PURELIB = -c 'import sysconfig; print(sysconfig.get_path("purelib"))'

.PHONY: setup setup-fallback setup-compat setup-bench demo test test-unit test-fallback test-compat test-wheel test-android bench clean

setup: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-dev.txt benchmarks/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip $(PIP_INSTALL) -r requirements-dev.txt
	$(VENV)/bin/pip uninstall -q -y triton
	$(VENV)/bin/pip $(PIP_INSTALL) --no-deps -e .
	touch $@

# torch 2.14.1 x86 wheels have no XNNPACK: this environment exercises the portable optimizer path.
# It holds only torch 2.14.1 + torchvision 0.29.1 and reads everything else (timm, Lightning, the
# CUDA libraries that torch links against but never calls on CPU) from $(VENV) through a .pth
# file: its own site-packages come first on sys.path, so `import torch` is 2.14.1. That saves a
# second 4 GB copy of the same packages.
setup-fallback: $(FALLBACK_VENV)/.installed
$(FALLBACK_VENV)/.installed: requirements-fallback.txt pyproject.toml $(VENV)/.installed
	rm -rf $(FALLBACK_VENV)
	$(PYTHON) -m venv $(FALLBACK_VENV)
	$(PY) $(PURELIB) > "$$($(FALLBACK_VENV)/bin/python $(PURELIB))/edgepack-main-venv.pth"
	$(FALLBACK_VENV)/bin/pip $(PIP_INSTALL) --no-deps -r requirements-fallback.txt
	$(FALLBACK_VENV)/bin/pip $(PIP_INSTALL) --no-deps -e .
	$(FALLBACK_VENV)/bin/python -c 'import torch, torchvision, timm; assert torch.__version__.startswith("2.14."), torch.__version__'
	touch $@

# torch 2.1.0 = the lite interpreter inside pytorch_android_lite 2.1.0, the last Android release:
# every artifact kind edgepack produces must load and run there (docs/compat.md).
setup-compat: $(COMPAT_VENV)/.installed
$(COMPAT_VENV)/.installed: compat/requirements.txt
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/pip $(PIP_INSTALL) -r compat/requirements.txt
	$(COMPAT_VENV)/bin/pip uninstall -q -y triton
	touch $@

setup-bench: setup
	$(VENV)/bin/pip $(PIP_INSTALL) -r benchmarks/requirements.txt

demo: setup
	@mkdir -p out
	$(VENV)/bin/edgepack build examples/shapes_regnet.ckpt -o out/shapes_regnet.ptl --force --val examples/images
	$(VENV)/bin/edgepack build examples/shapes_regnet.ckpt -o out/shapes_regnet.pte --force --val examples/images
	$(VENV)/bin/edgepack predict out/shapes_regnet.ptl examples/images/*/*.png --top-k 3
	$(VENV)/bin/edgepack predict out/shapes_regnet.pte examples/images/*/*.png --top-k 3
	$(VENV)/bin/edgepack inspect out/shapes_regnet.pte
	$(VENV)/bin/edgepack bench out/shapes_regnet.ptl out/shapes_regnet.pte --threads 1
	$(VENV)/bin/edgepack build examples/shapes_segmenter.ckpt -o out/shapes_segmenter.ptl --force --val examples/segmentation
	$(VENV)/bin/edgepack build examples/shapes_segmenter.ckpt -o out/shapes_segmenter.pte --force --val examples/segmentation
	$(VENV)/bin/edgepack predict out/shapes_segmenter.ptl examples/segmentation/images/00000.png --mask-out out/shapes_mask.png --overlay-out out/shapes_overlay.png
	$(VENV)/bin/edgepack predict out/shapes_segmenter.pte examples/segmentation/images/0000*.png
	$(VENV)/bin/edgepack bench out/shapes_segmenter.ptl out/shapes_segmenter.pte --threads 1

test: test-unit test-fallback test-compat test-wheel test-android

test-unit: setup
	$(PY) -m pytest -q -p no:cacheprovider tests

test-fallback: setup-fallback
	$(FALLBACK_VENV)/bin/python -m pytest -q -p no:cacheprovider -m fallback tests

test-compat: setup setup-compat
	$(PY) -m pytest -q -p no:cacheprovider -m compat tests

# What `pip install .` gives a user must carry everything the commands read (the old runtimes'
# operator lists, the script `check` runs in torch 2.1). Build the wheel, install it into a clean
# environment that reads torch, timm & co from $(VENV) through a .pth file (as setup-fallback
# does: a few MB instead of a second 4 GB copy), and run `build --runtime 2.1` and `check` with it
# from outside the source tree.
test-wheel: setup setup-compat
	rm -rf build/lib $(WHEEL_DIR) $(WHEEL_VENV)
	$(PY) -m pip wheel -q --no-deps --no-cache-dir -w $(WHEEL_DIR) .
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(PY) $(PURELIB) > "$$($(WHEEL_VENV)/bin/python $(PURELIB))/edgepack-main-venv.pth"
	$(WHEEL_VENV)/bin/pip $(PIP_INSTALL) --no-deps $(WHEEL_DIR)/edgepack-*.whl
	bash scripts/wheel_smoke.sh $(WHEEL_VENV)/bin $(COMPAT_VENV)/bin/python

test-android:
	bash android_demo/run_jvm_tests.sh

# Side-by-side runtime comparison (about 10 minutes on 2 cores); results go to benchmarks/results/.
bench: setup-bench
	$(PY) benchmarks/run_benchmarks.py

clean:
	rm -rf out .pytest_cache $(WHEEL_DIR) $(WHEEL_VENV)
