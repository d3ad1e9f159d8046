"""The manifest inside a model file is untrusted input (#14 rows 4 and 5, item 3).

`predict`, `inspect`, `bench` and `check` check every field they use (JSON type, range, and the
fields against each other) and answer a bad one with one error line and exit 2, never a traceback
or a wrong label; the model's real output (and for a `.pte` its planned input and output) is
compared with the manifest, so a manifest copied onto another model is refused.
"""
from __future__ import annotations

import copy
import json
import math
import pathlib
import sys

import pytest
import torch
from PIL import Image

from edgepack import BuildOptions, build
from edgepack.errors import EdgepackError
from edgepack.manifest import ManifestError, check_manifest
from conftest import ImageClassifier, TINY_ARCH, json_out, one_line_error, random_image, randomize_batchnorm, \
    save_lightning_checkpoint
import mutations

FIXTURES = pathlib.Path(__file__).with_name("fixtures")
QUIET = dict(report=lambda m: None)


@pytest.fixture(scope="module")
def files(tiny_ckpt, tmp_path_factory):
    root = tmp_path_factory.mktemp("untrusted")
    model3 = ImageClassifier(backbone=TINY_ARCH, num_classes=3, labels=["x", "y", "z"],
                             data_config={"input_size": (3, 64, 64), "interpolation": "bilinear", "crop_pct": 0.9,
                                          "crop_mode": "center", "mean": (0.5,) * 3, "std": (0.25,) * 3})
    randomize_batchnorm(model3)
    ckpt3 = save_lightning_checkpoint(root / "three.ckpt", model3.eval(), dict(model3.hparams),
                                      extra={"hparams_name": "kwargs"})
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = {"img": root / "img.ptl", "flt": root / "flt.ptl", "three": root / "three.ptl",
               "flt_pte": root / "flt.pte"}
        build(str(tiny_ckpt), BuildOptions(output=str(out["img"])), **QUIET)
        build(str(tiny_ckpt), BuildOptions(output=str(out["flt"]), input="float"), **QUIET)
        build(str(ckpt3), BuildOptions(output=str(out["three"])), **QUIET)
        build(str(tiny_ckpt), BuildOptions(output=str(out["flt_pte"]), input="float"), **QUIET)
    finally:
        torch.set_num_threads(threads)
    image = root / "photo.png"
    Image.fromarray(random_image(3, (60, 80)).numpy()).save(image)
    out["image"], out["root"] = image, root
    return out


def _edit(files, name, change, key):
    """A copy of files[name] whose manifest is change(manifest) (or the value change, if not callable)."""
    manifest = mutations.read_manifest(files[name])
    new = change(copy.deepcopy(manifest)) if callable(change) else change
    dest = files["root"] / f"{key}{files[name].suffix}"
    mutations.with_manifest(files[name], dest, new)
    return dest


def _set(path, value):
    def change(m):
        node = m
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return m
    return change


def _replace(key, value):
    return lambda m: dict(m, **{key: value})


# (name, model, change, words of the error)
TYPE_CASES = [
    ("string", "img", "x", "must be a JSON object"),
    ("array", "img", [], "must be a JSON object"),
    ("number", "img", 42, "must be a JSON object"),
    ("null", "img", None, "must be a JSON object"),
    ("input-string", "img", _replace("input", "x"), "'input' must be an object"),
    ("input-array", "img", _replace("input", []), "'input' must be an object"),
    ("output-array", "img", _replace("output", [6]), "'output' must be an object"),
    ("labels-string", "img", _replace("labels", "abcd"), "'labels' must be a list of strings"),
    ("labels-numbers", "img", _replace("labels", [1, 2, 3, 4]), "'labels' must be a list of strings"),
    ("labels-short", "img", _replace("labels", ["a", "b", "c"]), "3 labels for output.num_classes 4"),
    ("labels-long", "img", _replace("labels", list("abcdefg")), "7 labels for output.num_classes 4"),
    ("output-kind-array", "img", _set(["output", "kind"], []), "'output.kind' must be"),
    ("num-classes-wrong", "img", _set(["output", "num_classes"], 6), "does not match output.num_classes 6"),
    ("num-classes-string", "img", _set(["output", "num_classes"], "4"), "'output.num_classes' must be"),
    ("num-classes-zero", "img", _set(["output", "num_classes"], 0), "'output.num_classes' must be"),
    ("kind-float", "img", _set(["input", "kind"], "float"), "'input.kind' must be"),
    ("kind-missing", "img", _set(["input", "kind"], None), "'input.kind' must be"),
    ("max-side-string", "img", _set(["input", "max_side"], "big"), "'input.max_side' must be"),
    ("channels-five", "img", _set(["input", "channels"], [5]), "'input.channels' must be"),
    ("schema-string", "img", _replace("schema", "1"), "'schema' must be a positive integer"),
    ("schema-newer", "img", _replace("schema", 99), "schema 99 is newer"),
    ("task-unknown", "img", _replace("task", "detection"), "'task' must be"),
    ("activation-vs-task", "img", _set(["output", "activation"], "sigmoid"), "does not go with task"),
    ("engine-unknown", "img", _set(["quantization", "engine"], "gpu"), "'quantization.engine' must be"),
    ("dropped-numbers", "img", _set(["optimizer", "dropped"], [1]), "'optimizer.dropped' must be"),
    ("format-other", "img", _replace("format", "pte"), "the file is a .ptl"),
    ("preprocess-string", "flt", _replace("preprocess", "x"), "'preprocess' must be an object"),
    ("tensor-shape", "flt", _set(["input", "shape"], [1, 3, 64]), "'input.shape' must be"),
    ("tensor-size-vs-preprocess", "flt", _set(["input", "shape"], [1, 3, 32, 32]), "does not match input.shape"),
]


def _args(command, path, files):
    return {"predict": ["predict", path, files["image"]], "inspect": ["inspect", path],
            "bench": ["bench", path, "--runs", "1", "--warmup", "0"],
            "check": ["check", path, "--python", sys.executable]}[command]


@pytest.mark.parametrize("command", ["predict", "inspect", "bench", "check"])
@pytest.mark.parametrize("name,model,change,words", TYPE_CASES, ids=[c[0] for c in TYPE_CASES])
def test_malformed_manifest_is_one_line_error(cli, files, command, name, model, change, words):
    path = _edit(files, model, change, name)
    result = cli(*_args(command, path, files), "--json", expect=2)
    line = one_line_error(result)
    assert "invalid manifest" in line and words in line, line
    assert json_out(result) == {"error": line.split("edgepack: error: ", 1)[1], "exit_code": 2}


def _five_classes(m):
    m["labels"] = list("vwxyz")
    m["output"].update(num_classes=5, shape=[5])
    return m


@pytest.mark.parametrize("command", ["predict", "bench", "check"])
def test_copied_manifest_is_caught_on_the_first_run(cli, files, command):
    """A 3-class model carrying the manifest of a 4-class build, and a 4-class model whose manifest
    was edited consistently to 5 classes: both are internally valid manifests; the model's real
    output shape gives them away."""
    copied = files["root"] / "copied.ptl"
    manifest = mutations.read_manifest(files["img"])
    # With its digests the copy is refused as damaged (the other model's records do not match);
    # without them (a manifest from a build before the digests), the first run gives it away.
    mutations.with_manifest(files["three"], copied, manifest)
    assert "the file is damaged" in one_line_error(cli(*_args(command, copied, files), expect=2))
    mutations.with_manifest(files["three"], copied, {k: v for k, v in manifest.items() if k != "integrity"})
    line = one_line_error(cli(*_args(command, copied, files), expect=2))
    assert "output has shape [3] but its manifest says [4]" in line and "4 labels" in line, line
    five = _edit(files, "img", _five_classes, "five")
    line = one_line_error(cli(*_args(command, five, files), expect=2))
    assert "output has shape [4] but its manifest says [5]" in line, line


@pytest.mark.parametrize("model,change,words", [
    ("img", lambda m: dict(m, input={"kind": "tensor", "dtype": "float32", "layout": "NCHW", "shape": [1, 3, 64, 64]},
                           output=dict(m["output"], shape=[1, 4]), preprocess=m["preprocess"]),
     "input.kind 'tensor'"),
    ("flt", lambda m: dict(m, input={"kind": "image", "dtype": "uint8", "channels": [3, 4], "min_side": 16,
                                     "max_side": 4096}, output=dict(m["output"], shape=[4])),
     "input.kind 'image'"),
], ids=["tensor-on-image-model", "image-on-float-model"])
def test_input_kind_of_another_model_is_refused(cli, files, model, change, words):
    path = _edit(files, model, change, "kind")
    line = one_line_error(cli("predict", path, files["image"], "--json", expect=2))
    assert "does not run on the input its manifest describes" in line and words in line, line


@pytest.mark.parametrize("command", ["predict", "inspect", "bench"])
@pytest.mark.parametrize("name,change,words", [
    ("labels-string", _replace("labels", "abcd"), "'labels' must be a list of strings"),
    ("format-ptl", _replace("format", "ptl"), "the file is a .pte"),
    ("five-classes", lambda m: dict(_five_classes(m), output=dict(m["output"], num_classes=5, shape=[1, 5])),
     "output has shape [1, 4] but its manifest says [1, 5]"),
    ("kind-image", lambda m: dict(m, input={"kind": "image", "dtype": "uint8", "channels": [3, 4], "min_side": 16,
                                            "max_side": 64}, output=dict(m["output"], shape=[4])),
     "says input.kind 'image' but the program takes a float tensor [1, 3, 64, 64]"),
    ("input-shape", lambda m: _set(["preprocess", "input_size"], [3, 32, 32])(_set(["input", "shape"], [1, 3, 32, 32])(m)),
     "input.shape [1, 3, 32, 32] but the program takes"),
])
def test_pte_manifest_is_checked_against_the_program(cli, files, command, name, change, words):
    """A .pte's planned input and output are in the program: every command compares them with the
    manifest before running anything (inspect too)."""
    path = _edit(files, "flt_pte", change, name)
    line = one_line_error(cli(*_args(command, path, files), expect=2))
    assert words in line, line


def test_pte_image_signature_checks():
    """The image-input half of `check_signature` (the float .pte above covers the rest)."""
    from edgepack.formats.pte import check_signature

    manifest = json.loads((FIXTURES / "edgepack_manifest_pte.json").read_text())
    check_signature(([1920, 1920, 4], 0, [6]), manifest, "m.pte")
    for signature, words in [(([4096, 4096, 4], 0, [6]), "input.max_side 1920 but the program is planned for 4096"),
                             (([1, 3, 64, 64], 6, [1, 6]), "input.kind 'image' but the program takes a float tensor"),
                             (([1920, 1920, 4], 0, [7]), "output has shape [7] but its manifest says [6]")]:
        with pytest.raises(ManifestError, match=words.replace("[", r"\[").replace("]", r"\]")):
            check_signature(signature, manifest, "m.pte")


def test_valid_manifests_pass_and_files_still_run(cli, files):
    for name, fmt in (("edgepack_manifest.json", "ptl"), ("edgepack_manifest_pte.json", "pte")):
        manifest = json.loads((FIXTURES / name).read_text())
        assert check_manifest(manifest, name, fmt) is manifest
    for key in ("img", "flt", "flt_pte"):
        result = cli("predict", files[key], files["image"], "--json", expect=0)
        assert len(json_out(result)["results"][0]["top_k"]) == 4
        cli("inspect", files[key], expect=0)
    # labels null is allowed (a model built without labels)
    no_labels = _edit(files, "img", _replace("labels", None), "nolabels")
    top = json_out(cli("predict", no_labels, files["image"], "--json", expect=0))["results"][0]["top_k"]
    assert top[0]["label"].startswith("class ")


def test_non_finite_output_is_an_error_not_a_prediction(files):
    from edgepack.predict import Predictor

    predictor = Predictor(files["img"])
    predictor.predict_file(files["image"])  # the first run checks the real output shape
    predictor.module = lambda x: torch.full((4,), math.nan)
    with pytest.raises(EdgepackError, match="not finite"):
        predictor.predict_file(files["image"])


@pytest.mark.parametrize("command", ["predict", "inspect", "bench"])
def test_undecodable_bytecode_string_is_an_input_error(cli, files, command):
    """A byte of a .ptl's bytecode.pkl made invalid UTF-8 (found by the fuzz campaign: the lite
    loader raises UnicodeDecodeError, which predict reported as an internal error, exit 3)."""
    data = bytearray(files["img"].read_bytes())
    start, length = mutations.records(files["img"])["bytecode"][0]
    data[data.index(b"aten::", start, start + length) + 1] = 0xFF
    flipped = files["root"] / "bad_utf8_digested.ptl"
    flipped.write_bytes(bytes(data))
    # The digests refuse it first; without them the lite loader's decoding error must still be
    # one line, exit 2.
    assert "the file is damaged" in one_line_error(cli(*_args(command, flipped, files), expect=2))
    path = files["root"] / "bad_utf8.ptl"
    manifest = mutations.read_manifest(flipped)
    mutations.with_manifest(flipped, path, {k: v for k, v in manifest.items() if k != "integrity"})
    line = one_line_error(cli(*_args(command, path, files), expect=2))
    assert "utf-8" in line, line


@pytest.mark.parametrize("command", ["predict", "inspect", "bench"])
def test_undecodable_pte_manifest_is_an_input_error(cli, files, command):
    """A byte of a .pte's manifest string made invalid UTF-8 (found by the fuzz campaign: the
    runtime's string conversion raised UnicodeDecodeError, exit 3)."""
    data = bytearray(files["flt_pte"].read_bytes())
    start, length = mutations.records(files["flt_pte"])["manifest"][0]
    data[data.index(b'"labels"', start, start + length) + 2] = 0xE5
    path = files["root"] / "bad_utf8.pte"
    path.write_bytes(bytes(data))
    line = one_line_error(cli(*_args(command, path, files), expect=2))
    assert "corrupt" in line, line


def test_null_optional_figures_are_shown_not_crashed_on(cli, files):
    """Optional manifest figures may be null (inspect of a .pte whose delegated_share was null
    raised TypeError in the human output, exit 3)."""
    path = _edit(files, "flt_pte", _set(["optimizer", "delegated_share"], None), "null-share")
    assert "delegated" in cli("inspect", path, expect=0).stdout


@pytest.mark.parametrize("command", ["predict", "inspect", "bench", "check"])
def test_zip_version_python_cannot_read_is_an_input_error(cli, files, command):
    """A flipped byte in the zip directory that makes an entry ask for zip version 6.4 (found by
    the fuzz campaign: Python's zipfile raises NotImplementedError, which was exit 3)."""
    data = bytearray(files["img"].read_bytes())
    entry = data.index(b"PK\x01\x02")  # the first central-directory record
    data[entry + 6:entry + 8] = (64).to_bytes(2, "little")  # "version needed to extract": 6.4
    path = files["root"] / "zip64.ptl"
    path.write_bytes(bytes(data))
    line = one_line_error(cli(*_args(command, path, files), expect=2))
    assert "zip file version 6.4" in line, line
