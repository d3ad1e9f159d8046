"""Build options and data-config values: bad ones are refused up front, by name, with exit 2;
accepted ones do what they say (#14 rows 9, 11, 12 and the smaller items)."""
from __future__ import annotations

import hashlib

import pytest
import torch

from edgepack import BuildOptions
from edgepack.manifest import read_manifest
from edgepack.sources import INIT_SEED, load_source
from conftest import TINY_ARCH, one_line_error, run_process, save_lightning_checkpoint


@pytest.fixture()
def no_build_work(monkeypatch):
    """Fails the test if the build gets as far as loading the model."""
    import edgepack.package as package

    def refuse(*args, **kwargs):
        raise AssertionError("the build started loading the model before refusing a bad option")

    monkeypatch.setattr(package, "load_source", refuse)


@pytest.mark.parametrize("option,value,words", [
    ("--mean", "nan,nan,nan", "--mean: [nan, nan, nan] are not 3 finite numbers"),
    ("--mean", "0.5,inf,0.5", "--mean: [0.5, inf, 0.5] are not 3 finite numbers"),
    ("--mean", "123.7,116.3,103.5", "--mean: 123.7 is out of range (0..1) (values are on the 0..1 pixel scale)"),
    ("--std", "inf,inf,inf", "--std: [inf, inf, inf] are not 3 finite numbers"),
    ("--std", "1e-30,1e-30,1e-30", "--std: 1e-30 is out of range (0.001..10)"),  # a constant-output model
    ("--std", "0,1,1", "--std: 0 is out of range"),
    ("--rtol", "nan", "--rtol must be a number in [0, 1]"),
    ("--rtol", "inf", "--rtol must be a number in [0, 1]"),
    ("--rtol", "-1", "--rtol must be a number in [0, 1]"),
    ("--min-agreement", "nan", "--min-agreement must be in [0, 1]"),
    ("--crop-pct", "nan", "--crop-pct: nan is not a finite number"),
    ("--image-size", "4x4000", "--image-size: 4x4000 is out of range (8..2048 per side)"),
    ("--bytecode-version", "3", "--bytecode-version 3: torch can backport down to 4 only"),
])
def test_bad_option_values_are_named_before_any_work(cli, tiny_ckpt, tmp_path, no_build_work, option, value, words):
    res = cli("build", tiny_ckpt, "-o", tmp_path / "x.ptl", option, value, expect=2)
    assert words in one_line_error(res)
    assert list(tmp_path.iterdir()) == []


def test_runtime_does_not_silently_lower_an_explicit_bytecode_version(cli, tiny_ckpt, tmp_path, no_build_work):
    res = cli("build", tiny_ckpt, "-o", tmp_path / "x.ptl", "--runtime", "1.10", "--bytecode-version", "8", expect=2)
    assert "--bytecode-version 8 conflicts with --runtime 1.10, which reads bytecode versions up to 7" \
        in one_line_error(res)
    res = cli("build", tiny_ckpt, "-o", tmp_path / "x.ptl", "--runtime", "1.10", expect=2)
    assert "no operator list for that runtime" in one_line_error(res)  # before building, not after


def _ckpt_with_data_config(tmp_path, tiny_classifier, **fields):
    hp = dict(tiny_classifier.hparams)
    hp["data_config"] = dict(hp["data_config"], **fields)
    return save_lightning_checkpoint(tmp_path / "cfg.ckpt", tiny_classifier, hp)


@pytest.mark.parametrize("fields,words,fix", [
    ({"input_size": "abc"}, "the checkpoint's data config: input_size: 'abc' is not an image size", "--image-size"),
    ({"input_size": ["a", "b", "c"]}, "input_size: ['a', 'b', 'c'] is not an image size", "--image-size"),
    ({"crop_pct": 0}, "the checkpoint's data config: crop_pct: 0 is out of range (0.05..2)", "--crop-pct"),
    ({"crop_pct": float("nan")}, "crop_pct: nan is not a finite number", "--crop-pct"),
    ({"interpolation": "lanczos"}, "interpolation: unsupported value 'lanczos'", "--interpolation bicubic"),
    ({"interpolation": "random"}, "interpolation: unsupported value 'random'", "--interpolation"),
    ({"mean": [0.5, float("nan"), 0.5]}, "mean: [0.5, nan, 0.5] are not 3 finite numbers", "--mean"),
    ({"std": [1e-30, 1e-30, 1e-30]}, "std: 1e-30 is out of range", "--std"),
    ({"crop_mode": "zoom"}, "crop_mode: unsupported value 'zoom'", "--crop-mode"),
])
def test_bad_data_config_fields_are_named(cli, tiny_classifier, tmp_path, fields, words, fix):
    """Checkpoints are untrusted: a bad field is one line naming it and the option that fixes it
    (exit 2), never a traceback and never a silently substituted default."""
    path = _ckpt_with_data_config(tmp_path, tiny_classifier, **fields)
    line = one_line_error(cli("build", path, "-o", tmp_path / "x.ptl", expect=2))
    assert words in line and fix in line
    assert not (tmp_path / "x.ptl").exists()


def test_an_override_fixes_a_bad_data_config_field(cli, tiny_classifier, tmp_path):
    path = _ckpt_with_data_config(tmp_path, tiny_classifier, input_size="abc", interpolation="lanczos")
    out = tmp_path / "x.ptl"
    cli("build", path, "-o", out, "--image-size", "48", "--interpolation", "bicubic", "--no-optimize", expect=0)
    pre = read_manifest(out)["preprocess"]
    assert pre["input_size"] == [3, 48, 48] and pre["interpolation"] == "bicubic"


# --- --num-classes against a checkpoint (#14 row 11) -------------------------------------------

def test_num_classes_that_disagrees_with_the_checkpoint_is_refused(cli, tiny_ckpt, tmp_path):
    """A trained 4-class classifier cannot become a 10-class one: refusing is the only honest
    answer (it used to be silently ignored and recorded in the manifest as if applied)."""
    res = cli("build", tiny_ckpt, "-o", tmp_path / "x.ptl", "--num-classes", "10", expect=2)
    assert "--num-classes 10 disagrees with" in one_line_error(res) and "has 4 classes" in one_line_error(res)
    assert not (tmp_path / "x.ptl").exists()
    out = tmp_path / "ok.ptl"
    cli("build", tiny_ckpt, "-o", out, "--num-classes", "4", "--no-optimize", expect=0)  # agreeing: fine
    assert read_manifest(out)["output"]["num_classes"] == 4


def test_num_classes_is_applied_where_nothing_fixes_it(tmp_path):
    src = load_source(f"timm:{TINY_ARCH}", num_classes=3)
    assert src.num_classes == 3
    with torch.no_grad():
        assert src.model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


# --- timm:NAME without weights is reproducible (#14 row 12) -------------------------------------

def test_random_timm_network_is_seeded_and_leaves_the_callers_rng_alone():
    states = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        before = torch.random.get_rng_state()
        src = load_source(f"timm:{TINY_ARCH}", num_classes=3)
        assert torch.equal(torch.random.get_rng_state(), before)  # the caller's stream is untouched
        states.append(src.model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert src.info["init_seed"] == INIT_SEED
    assert any(f"torch.manual_seed({INIT_SEED})" in note for note in src.notes)


def test_random_timm_builds_are_byte_identical(tmp_path):
    """Two processes (each starts torch's generator from a random seed) write the same bytes, and
    the manifest says how the weights were made."""
    digests = []
    for name in ("a.ptl", "b.ptl"):
        proc = run_process("build", f"timm:{TINY_ARCH}", "--num-classes", "3", "--image-size", "32",
                           "--no-optimize", "-o", tmp_path / name)
        assert proc.returncode == 0, proc.stderr
        assert "initialised from torch.manual_seed(0)" in proc.stderr
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    assert read_manifest(tmp_path / "a.ptl")["source"]["init_seed"] == INIT_SEED


# --- --input rgb and rgba ------------------------------------------------------------------------

def test_input_rgba_is_an_alias_of_rgb(tiny_ckpt, tmp_path):
    """Both take [H, W, 3] and [H, W, 4] frames (tests/test_build.py::test_rgba_and_rgb_give_same_answer),
    so they are one option under two names, and give the same file."""
    assert BuildOptions(input="rgba").recorded() == BuildOptions(input="rgb").recorded()
    digests = []
    for kind in ("rgb", "rgba"):
        out = tmp_path / f"{kind}.ptl"
        proc = run_process("build", tiny_ckpt, "--input", kind, "--no-optimize", "-o", out)
        assert proc.returncode == 0, proc.stderr
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
        assert read_manifest(out)["input"]["channels"] == [3, 4]
    assert digests[0] == digests[1]
