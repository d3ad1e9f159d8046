"""Mutated .ptl, .ckpt and image files never crash edgepack (see fuzz_driver.py)."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from edgepack import BuildOptions, build
from conftest import random_image

DRIVER = pathlib.Path(__file__).with_name("fuzz_driver.py")
CASES = {"inspect": 60, "predict-model": 40, "predict-image": 60, "build": 25}


@pytest.fixture(scope="module")
def fuzz_inputs(tiny_ckpt, tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    model = root / "valid.ptl"
    build(str(tiny_ckpt), BuildOptions(output=str(model)), report=lambda m: None)
    image = root / "valid.png"
    Image.fromarray(random_image(1, (48, 64)).numpy()).save(image)
    jpeg = root / "valid.jpg"
    Image.fromarray(np.asarray(Image.open(image))).save(jpeg, quality=90)
    return {"model": model, "png": image, "jpg": jpeg, "ckpt": tiny_ckpt, "root": root}


def _run(kind, valid, extra, cases, workdir):
    workdir.mkdir(exist_ok=True)
    cmd = [sys.executable, str(DRIVER), kind, str(valid)] + ([str(extra)] if extra else []) + \
          ["--cases", str(cases), "--workdir", str(workdir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"fuzz driver died (rc={proc.returncode}): {proc.stderr[-3000:]}"
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert stats["failures"] == [], json.dumps(stats["failures"][:3], indent=1)
    assert stats["cases"] >= cases
    print(f"fuzz {kind} {valid.name}: {stats}")
    return stats


def test_fuzz_inspect(fuzz_inputs):
    _run("inspect", fuzz_inputs["model"], None, CASES["inspect"], fuzz_inputs["root"] / "inspect")


def test_fuzz_predict_model_file(fuzz_inputs):
    _run("predict", fuzz_inputs["model"], fuzz_inputs["png"], CASES["predict-model"], fuzz_inputs["root"] / "pm")


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_fuzz_predict_images(fuzz_inputs, fmt):
    _run("predict", fuzz_inputs[fmt], fuzz_inputs["model"], CASES["predict-image"] // 2, fuzz_inputs["root"] / fmt)


def test_fuzz_build_checkpoint(fuzz_inputs):
    _run("build", fuzz_inputs["ckpt"], None, CASES["build"], fuzz_inputs["root"] / "build")
