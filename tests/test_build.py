"""End-to-end `edgepack build`: the written file is a real lite-interpreter file, validated."""
from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys

import pytest
import timm.data
import torch
from PIL import Image
from torch.jit.mobile import _load_for_lite_interpreter

import edgepack
from edgepack import BuildOptions, build
from edgepack.errors import EdgepackError
from edgepack.manifest import read_manifest
from edgepack.models import ImageClassifier
from edgepack.optimize import xnnpack_available
from conftest import TINY_ARCH, json_out, one_line_error, random_image, randomize_batchnorm, save_lightning_checkpoint



@pytest.mark.fallback
def test_build_checkpoint_writes_validated_ptl(cli, tiny_ckpt, tiny_classifier, tmp_path):
    out = tmp_path / "tiny.ptl"
    res = cli("build", tiny_ckpt, "-o", out, "--json", expect=0)
    report = json_out(res)
    assert report["output"] == str(out)
    assert report["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert report["validation"]["passed"] is True
    assert report["validation"]["max_rel_err"] <= 1e-3
    assert set(report["timings_s"]) >= {"load", "export", "optimize", "validate"}
    manifest = read_manifest(out)
    assert manifest["schema"] == 1
    assert manifest["labels"] == ["a", "b", "c", "d"]
    assert manifest["input"]["kind"] == "image"
    assert manifest["preprocess"]["input_size"] == [3, 64, 64]
    assert manifest["preprocess"]["interpolation"] == "bilinear"
    assert manifest["optimizer"]["path"] == ("xnnpack" if xnnpack_available() else "portable")
    assert manifest["source"]["sha256"] == hashlib.sha256(tiny_ckpt.read_bytes()).hexdigest()
    # No absolute paths inside: not the user's data, not where edgepack or torch are installed
    # (TorchScript debug info would carry those; the final file drops it).
    data = out.read_bytes().decode("latin-1")
    for folder in (tiny_ckpt.parent, pathlib.Path(edgepack.__file__).parent, pathlib.Path(torch.__file__).parent):
        assert str(folder) not in data

    # The file's answers are the model's: timm's own PIL eval transform + the eager network +
    # softmax, on frames of several sizes and aspect ratios (uint8 resizing matches PIL's to a
    # level on ~0.1% of pixels, see tests/test_preprocess.py).
    lite = _load_for_lite_interpreter(str(out))
    for h, w in [(64, 64), (50, 300), (300, 50), (17, 23), (481, 640)]:
        image = random_image(h + w, (h, w))
        probs = lite(image)
        assert probs.shape == (4,)
        torch.testing.assert_close(probs, timm_pil_eager(tiny_classifier, image), rtol=0, atol=1e-3)


def timm_pil_eager(model, image, activation=torch.softmax, **overrides):
    """What the model answers for a uint8 [H, W, 3] frame through timm's PIL eval pipeline, with
    its data config (and `overrides`, in timm's names)."""
    cfg = dict(model.hparams["data_config"], **overrides)
    transform = timm.data.create_transform(input_size=tuple(cfg["input_size"]), interpolation=cfg["interpolation"],
                                           crop_pct=cfg["crop_pct"], crop_mode=cfg["crop_mode"],
                                           mean=tuple(cfg["mean"]), std=tuple(cfg["std"]), is_training=False)
    with torch.no_grad():
        logits = model(transform(Image.fromarray(image.numpy())).unsqueeze(0))[0]
    return activation(logits, -1) if activation is torch.softmax else activation(logits)


def test_rgba_and_rgb_give_same_answer(tiny_ckpt, tmp_path):
    out = tmp_path / "m.ptl"
    build(str(tiny_ckpt), BuildOptions(output=str(out)), report=lambda m: None)
    lite = _load_for_lite_interpreter(str(out))
    rgb = random_image(3, (123, 77))
    rgba = torch.cat([rgb, torch.randint(0, 255, (123, 77, 1), dtype=torch.uint8)], dim=2)
    assert torch.equal(lite(rgb), lite(rgba))


@pytest.mark.fallback
def test_float_input_and_logits(cli, tiny_ckpt, tiny_classifier, tmp_path):
    out = tmp_path / "f.ptl"
    cli("build", tiny_ckpt, "-o", out, "--input", "float", "--output-kind", "logits", expect=0)
    manifest = read_manifest(out)
    assert manifest["input"] == {"kind": "tensor", "dtype": "float32", "layout": "NCHW", "shape": [1, 3, 64, 64],
                                 "normalized": True}
    assert manifest["output"]["kind"] == "logits"
    x = torch.randn(2, 3, 64, 64)
    lite = _load_for_lite_interpreter(str(out))
    with torch.no_grad():
        expected = tiny_classifier(x)
    torch.testing.assert_close(lite(x), expected, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("options,overrides", [
    (["--image-size", "48x64", "--interpolation", "bicubic", "--crop-pct", "0.8", "--crop-mode", "squash",
      "--mean", "0.4,0.5,0.6", "--std", "0.2,0.3,0.25"],
     {"input_size": (3, 48, 64), "interpolation": "bicubic", "crop_pct": 0.8, "crop_mode": "squash",
      "mean": (0.4, 0.5, 0.6), "std": (0.2, 0.3, 0.25)}),
    (["--image-size", "40", "--crop-mode", "border", "--crop-pct", "1.0"],
     {"input_size": (3, 40, 40), "crop_mode": "border", "crop_pct": 1.0}),
    (["--image-size", "56x40", "--interpolation", "bilinear", "--crop-pct", "0.95"],
     {"input_size": (3, 56, 40), "interpolation": "bilinear", "crop_pct": 0.95}),
])
def test_cli_preprocessing_overrides(cli, tiny_ckpt, tiny_classifier, tmp_path, options, overrides):
    """Every preprocessing option of the CLI reaches the file: the manifest records it and the
    file answers like timm's PIL pipeline configured the same way."""
    out = tmp_path / "o.ptl"
    cli("build", tiny_ckpt, "-o", out, "--no-optimize", *options, expect=0)
    pre = read_manifest(out)["preprocess"]
    expected = dict(tiny_classifier.hparams["data_config"], **overrides)
    assert pre["input_size"] == list(expected["input_size"])
    assert (pre["interpolation"], pre["crop_pct"], pre["crop_mode"]) == \
        (expected["interpolation"], expected["crop_pct"], expected["crop_mode"])
    assert pre["mean"] == list(expected["mean"]) and pre["std"] == list(expected["std"])
    lite = _load_for_lite_interpreter(str(out))
    for h, w in [(90, 70), (33, 200), (240, 320)]:
        image = random_image(h * w, (h, w))
        torch.testing.assert_close(lite(image), timm_pil_eager(tiny_classifier, image, **overrides), rtol=0, atol=1e-3)


def test_multilabel_checkpoint_gets_sigmoid(cli, tmp_path):
    """Multi-label checkpoints: independent sigmoids inside the file (not a softmax), recorded as
    such; predict applies the same to a logits file."""
    model = ImageClassifier(backbone=TINY_ARCH, num_classes=3, multi_label=True,
                            data_config={"input_size": (3, 32, 32), "interpolation": "bilinear", "crop_pct": 1.0,
                                         "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)})
    randomize_batchnorm(model)
    model.eval()
    ckpt = save_lightning_checkpoint(tmp_path / "ml.ckpt", model, dict(model.hparams))
    out = tmp_path / "ml.ptl"
    cli("build", ckpt, "-o", out, "--input", "float", "--no-optimize", expect=0)
    manifest = read_manifest(out)
    assert manifest["task"] == "multilabel" and manifest["output"]["activation"] == "sigmoid"
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = torch.sigmoid(model(x))
    got = _load_for_lite_interpreter(str(out))(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(got.sum(-1), torch.ones(3))  # not a softmax
    # predict on a logits file: sigmoid in Python, as the manifest's task says
    logits_file = tmp_path / "ml-logits.ptl"
    cli("build", ckpt, "-o", logits_file, "--output-kind", "logits", "--no-optimize", expect=0)
    image = random_image(7, (48, 48))
    Image.fromarray(image.numpy()).save(tmp_path / "p.png")
    doc = json_out(cli("predict", logits_file, tmp_path / "p.png", "--top-k", "3", "--json", expect=0))
    probs = {item["index"]: item["probability"] for item in doc["results"][0]["top_k"]}
    expected = timm_pil_eager(model, image, activation=torch.sigmoid)
    assert probs == pytest.approx({i: float(expected[i]) for i in range(3)}, abs=1e-3)


def test_existing_output_needs_force(cli, tiny_ckpt, tmp_path):
    out = tmp_path / "m.ptl"
    out.write_bytes(b"previous")
    res = cli("build", tiny_ckpt, "-o", out, expect=2)
    assert "--force" in one_line_error(res)
    assert out.read_bytes() == b"previous"
    cli("build", tiny_ckpt, "-o", out, "--force", expect=0)
    assert read_manifest(out)["schema"] == 1


def _break_validation(monkeypatch, only=None):
    """The written file's outputs, as validation sees them, are off by 1.0 (for files whose name
    contains `only`, when given): every optimisation level fails."""
    import edgepack.package as package

    real = package._run_lite

    def off(path, inputs):
        outputs = real(path, inputs)
        return [o + 1.0 for o in outputs] if only is None or only in path.name else outputs

    monkeypatch.setattr(package, "_run_lite", off)


@pytest.mark.fallback
def test_failed_validation_writes_nothing(cli, tiny_ckpt, tmp_path, monkeypatch):
    out = tmp_path / "m.ptl"
    _break_validation(monkeypatch)
    res = cli("build", tiny_ckpt, "-o", out, expect=1)
    line = one_line_error(res)
    assert "validation failed" in line and "(--rtol)" in line
    assert res.stderr.count("retrying with less optimisation") >= 1  # every level was tried
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    res = cli("build", tiny_ckpt, "-o", out, "--accept-mismatch", expect=1)
    assert out.exists() and read_manifest(out)["validation"]["passed"] is False


def test_final_file_must_reproduce_the_validated_outputs(cli, tiny_ckpt, tmp_path, monkeypatch):
    """The final file is re-run and compared with the validated candidate's outputs, bit for bit;
    a difference (a copy that went wrong) fails the build and publishes nothing."""
    _break_validation(monkeypatch, only=".final.")
    out = tmp_path / "m.ptl"
    res = cli("build", tiny_ckpt, "-o", out, "--no-optimize", expect=1)
    assert "the final file does not reproduce the validated outputs" in one_line_error(res)
    assert list(tmp_path.iterdir()) == []


def test_builds_are_byte_identical(tiny_ckpt, tmp_path):
    """Two separate runs (as in a release pipeline) give the same bytes; output names don't matter."""
    digests = []
    for name in ("a.ptl", "b.ptl"):
        subprocess.run([sys.executable, "-m", "edgepack", "build", str(tiny_ckpt), "-o", str(tmp_path / name)],
                       check=True, capture_output=True)
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]


@pytest.mark.fallback
@pytest.mark.parametrize("mode", ["portable", "none"])
def test_portable_and_unoptimized_paths(tiny_ckpt, tmp_path, mode):
    out = tmp_path / f"{mode}.ptl"
    res = build(str(tiny_ckpt), BuildOptions(output=str(out), optimize=mode), report=lambda m: None)
    assert res.manifest["optimizer"]["path"] == mode
    assert res.manifest["validation"]["passed"]
    ops = set(torch.jit.mobile._export_operator_list(_load_for_lite_interpreter(str(out))))
    assert not any(op.startswith("prepacked::") for op in ops)  # neither level uses XNNPACK
    if mode == "portable":  # frozen (BatchNorm folded into the convolutions), add+relu fused
        assert not any("batch_norm" in op for op in ops)
        assert any(op.startswith("aten::_add_relu") for op in ops)
    else:  # the traced network as it is
        assert "aten::batch_norm" in ops and not any(op.startswith("aten::_add_relu") for op in ops)


BRANCHY = """
import torch
from torch import nn


class Branchy(nn.Module):
    \"\"\"Data-dependent control flow: tracing keeps the branch its example input took.\"\"\"

    def __init__(self, classes=3):
        super().__init__()
        self.bright = nn.Linear(3, classes)
        self.dark = nn.Linear(3, classes)

    def forward(self, x):
        f = x.mean(dim=(2, 3))
        if bool(f.mean() > 0):
            return self.bright(f)
        return self.dark(f)
"""


def test_script_method(cli, tmp_path, monkeypatch):
    """--method script really scripts the network: on a model with data-dependent control flow,
    the scripted file answers like the eager model on both branches, while the traced file (the
    branch of its all-zero example frozen in) fails validation on the same images."""
    (tmp_path / "branchy.py").write_text(BRANCHY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    from branchy import Branchy

    torch.manual_seed(0)
    net = Branchy().eval()
    ckpt = save_lightning_checkpoint(tmp_path / "branchy.ckpt", net, {"classes": 3})
    val = tmp_path / "val"
    val.mkdir()
    frames = {"bright": torch.full((40, 40, 3), 220, dtype=torch.uint8),
              "dark": torch.full((40, 40, 3), 30, dtype=torch.uint8)}
    for name, frame in frames.items():
        Image.fromarray(frame.numpy()).save(val / f"{name}.png")
    common = ["--model-class", "branchy:Branchy", "--image-size", "32", "--mean", "0.5,0.5,0.5",
              "--std", "0.25,0.25,0.25", "--val", val, "--no-optimize"]
    out = tmp_path / "s.ptl"
    cli("build", ckpt, "-o", out, "--method", "script", *common, expect=0)
    assert read_manifest(out)["options"]["method"] == "script"
    lite = _load_for_lite_interpreter(str(out))
    for name, frame in frames.items():
        x = torch.full((1, 3, 32, 32), (frame[0, 0, 0].item() / 255 - 0.5) / 0.25)
        with torch.no_grad():
            expected = torch.softmax(net(x), -1)[0]
        torch.testing.assert_close(lite(frame), expected, rtol=1e-5, atol=1e-6, msg=name)
    res = cli("build", ckpt, "-o", tmp_path / "t.ptl", "--method", "trace", *common, expect=1)
    assert "validation failed" in one_line_error(res)


def test_optimizer_breakage_is_caught_and_reduced(tiny_ckpt, tmp_path, monkeypatch):
    """When an optimisation level changes outputs, the build drops it and says so."""
    import edgepack.optimize as optimize

    real = optimize.portable_optimize

    def broken(module, fold=True):
        # Simulate a folding pass that changes numerics by ~10%.
        return real(torch.jit.script(_Scaled(module)), fold) if fold else real(module, fold)

    monkeypatch.setattr(optimize, "portable_optimize", broken)
    out = tmp_path / "r.ptl"
    res = build(str(tiny_ckpt), BuildOptions(output=str(out), optimize="portable"), report=lambda m: None)
    assert res.manifest["optimizer"]["dropped"] == ["fold_conv_bn", "fold_conv_add_mul"]
    assert any("reduced" in n for n in res.notes)


class _Scaled(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) * 0.9 + 0.1 / 4


def test_unwritable_output_folder(cli, tiny_ckpt, tmp_path):
    res = cli("build", tiny_ckpt, "-o", tmp_path / "missing" / "m.ptl", expect=2)
    assert "does not exist" in one_line_error(res)
    if os.geteuid() != 0:  # root can write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        res = cli("build", tiny_ckpt, "-o", ro / "m.ptl", expect=2)
        assert "not writable" in one_line_error(res)


def test_too_little_disk_space_is_refused_before_writing(cli, tiny_ckpt, tmp_path, monkeypatch):
    """torch's archive writer aborts the process when the disk fills up under it, so the build
    checks free space first and refuses with one line, writing nothing."""
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: real(path)._replace(free=1 << 20))
    out = tmp_path / "m.ptl"
    res = cli("build", tiny_ckpt, "-o", out, expect=2)
    assert "not enough free disk space" in one_line_error(res)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_writing_the_final_file_to_a_full_disk_is_an_error_not_a_crash(tiny_ckpt, tmp_path):
    """Without edgepack's guard, torch's writer re-raises the write error from its destructor and
    the interpreter aborts; here the error must come back as an exception, and the process live on."""
    from edgepack.manifest import write_archive

    built = tmp_path / "m.ptl"
    build(str(tiny_ckpt), BuildOptions(output=str(built), optimize="none"), report=lambda m: None)
    with pytest.raises(OSError) as info:
        write_archive(built, "/dev/full", {"schema": 1})
    assert info.value.errno == 28  # ENOSPC
    write_archive(built, tmp_path / "copy.ptl", read_manifest(built))
    assert (tmp_path / "copy.ptl").read_bytes() == built.read_bytes()  # the final file is this same copy


def test_labels_file(cli, tiny_ckpt, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("w\nx\ny\nz\n")
    out = tmp_path / "l.ptl"
    cli("build", tiny_ckpt, "-o", out, "--labels", labels, expect=0)
    assert read_manifest(out)["labels"] == ["w", "x", "y", "z"]
    labels.write_text("w\nx\n")
    res = cli("build", tiny_ckpt, "-o", tmp_path / "l2.ptl", "--labels", labels, expect=2)
    assert "2 labels for a model with 4 classes" in one_line_error(res)


def test_library_errors_are_edgepack_errors(tmp_path):
    with pytest.raises(EdgepackError):
        build("timm:not_a_model", BuildOptions(output=str(tmp_path / "x.ptl")), report=lambda m: None)


def test_batchnorm_is_folded_exactly_before_prepacking(tiny_ckpt, tmp_path):
    """torch 2.12's optimize_for_mobile CONV_BN_FUSION pass changes outputs by >10% on ResNets
    with non-trivial BatchNorm statistics, and blocking it leaves BatchNorm unfused (slow). The
    build freezes first (exact folding), so the file has prepacked convolutions, no BatchNorm,
    and eager-level accuracy."""
    if not xnnpack_available():
        pytest.skip("needs a torch build with XNNPACK")
    out = tmp_path / "bn.ptl"
    res = build(str(tiny_ckpt), BuildOptions(output=str(out)), report=lambda m: None)
    optimizer = res.manifest["optimizer"]
    assert optimizer["path"] == "xnnpack" and optimizer["dropped"] == []
    assert optimizer["passes"][0] == "freeze_fold_conv_bn"
    assert res.manifest["validation"]["max_rel_err"] < 1e-4
    ops = set(torch.jit.mobile._export_operator_list(_load_for_lite_interpreter(str(out))))
    assert any(op.startswith("prepacked::conv2d") for op in ops)
    assert not any("batch_norm" in op for op in ops)


def test_val_image_outside_supported_sides_is_an_input_error(cli, tiny_ckpt, tmp_path):
    from PIL import Image

    val = tmp_path / "val" / "a"
    val.mkdir(parents=True)
    Image.new("RGB", (10, 10)).save(val / "tiny.png")
    out = tmp_path / "m.ptl"
    res = cli("build", tiny_ckpt, "-o", out, "--val", tmp_path / "val", expect=2)
    assert "outside the 16..8192 px" in one_line_error(res)
    assert not out.exists()


def test_stale_temporaries_of_killed_builds_are_removed(tmp_path):
    from edgepack.package import clean_stale_temporaries

    out = tmp_path / "m[1].ptl"  # glob metacharacters in the name
    dead = 2**22 + 12345  # above Linux's default pid_max: no such process
    stale = [tmp_path / f".m[1].ptl.{dead}.candidate.tmp", tmp_path / f".m[1].ptl.{dead}.candidate.backport.tmp"]
    alive = tmp_path / f".m[1].ptl.{os.getppid()}.final.tmp"  # a running build's file stays
    for p in stale + [alive]:
        p.write_bytes(b"x")
    removed = clean_stale_temporaries(out)
    assert sorted(removed) == sorted(stale) and alive.exists()
