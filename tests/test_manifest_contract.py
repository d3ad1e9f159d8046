"""One contract, two sides: the manifest fixture the Android app's JVM tests read is what a build
produces today, and a .ptl takes RGBA bytes exactly as the app hands them over."""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import torch
from torch.jit.mobile import _load_for_lite_interpreter

from edgepack import BuildOptions, build
from edgepack.manifest import SCHEMA

FIXTURES = {"ptl": pathlib.Path(__file__).with_name("fixtures") / "edgepack_manifest.json",
            "pte": pathlib.Path(__file__).with_name("fixtures") / "edgepack_manifest_pte.json"}


def _shape(value):
    """Structure of a JSON value: key sets of objects, element kinds of lists, JSON types."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return ["list", sorted({type(v).__name__ for v in value})]
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _build(example_ckpt, tmp_path_factory, fmt):
    out = tmp_path_factory.mktemp("contract") / f"example.{fmt}"
    result = build(str(example_ckpt), BuildOptions(output=str(out)), report=lambda m: None)
    return out, result.manifest


@pytest.fixture(scope="module")
def built(example_ckpt, tmp_path_factory):
    return _build(example_ckpt, tmp_path_factory, "ptl")


@pytest.fixture(scope="module")
def built_pte(example_ckpt, tmp_path_factory):
    pytest.importorskip("executorch")
    return _build(example_ckpt, tmp_path_factory, "pte")


def test_fixture_matches_a_fresh_build(built):
    _check_fixture(built[1], "ptl")


def test_pte_fixture_matches_a_fresh_build(built_pte):
    _check_fixture(built_pte[1], "pte")
    assert built_pte[1]["format"] == "pte" and "executorch" in built_pte[1] and "memory" in built_pte[1]


def _check_fixture(manifest, fmt):
    fixture = json.loads(FIXTURES[fmt].read_text())
    assert fixture["schema"] == SCHEMA
    # Figures differ from build to build (versions, errors); the structure must not.
    for key in ("input", "output", "preprocess", "quantization", "source", "optimizer"):
        assert _shape(manifest[key]) == _shape(fixture[key]), f"manifest '{key}' changed shape: run " \
            "scripts/update_manifest_fixture.py and update android_demo/core if the app must change"
    assert set(manifest) == set(fixture)
    assert set(manifest["validation"]) == set(fixture["validation"])
    assert manifest["format"] == fixture["format"] == fmt
    assert manifest["labels"] == fixture["labels"]
    assert manifest["input"] == fixture["input"]


def test_app_style_rgba_bytes(built):
    """Bitmap.copyPixelsToBuffer gives H*W*4 bytes, row-major RGBA; the app wraps them as a uint8
    [H, W, 4] tensor (Tensor.fromBlobUnsigned) without any other processing."""
    path, manifest = built
    h, w = 333, 517  # odd, non-square, like a camera crop
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(h, w, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    buffer = bytearray(pixels.tobytes())
    tensor = torch.frombuffer(buffer, dtype=torch.uint8).reshape(h, w, 4)
    probs = _load_for_lite_interpreter(str(path))(tensor)
    assert probs.shape == (manifest["output"]["num_classes"],)
    assert probs.dtype == torch.float32
    assert abs(float(probs.sum()) - 1.0) < 1e-5
    # The same picture as RGB gives the same answer: alpha is ignored.
    rgb = torch.from_numpy(np.ascontiguousarray(pixels[..., :3]))
    torch.testing.assert_close(_load_for_lite_interpreter(str(path))(rgb), probs)


def test_app_style_rgba_bytes_pte(built_pte):
    """The same bytes through ExecuTorch's runtime, which the app's .pte path uses."""
    from edgepack.formats.pte import PteModule

    path, manifest = built_pte
    pixels = np.random.default_rng(0).integers(0, 256, size=(333, 517, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    module = PteModule(path)
    probs = module(torch.from_numpy(pixels))
    assert probs.shape == (manifest["output"]["num_classes"],) and abs(float(probs.sum()) - 1.0) < 1e-5
    torch.testing.assert_close(module(torch.from_numpy(np.ascontiguousarray(pixels[..., :3]))), probs)
