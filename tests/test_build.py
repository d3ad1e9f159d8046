"""End-to-end `edgepack build`: the written file is a real lite-interpreter file, validated."""
from __future__ import annotations

import hashlib
import os
import pathlib
import subprocess
import sys

import pytest
import torch
from torch.jit.mobile import _load_for_lite_interpreter

import edgepack
from edgepack import BuildOptions, build
from edgepack.errors import EdgepackError
from edgepack.manifest import read_manifest
from edgepack.optimize import xnnpack_available
from conftest import json_out, one_line_error, random_image



@pytest.mark.fallback
def test_build_checkpoint_writes_validated_ptl(cli, tiny_ckpt, tmp_path):
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

    lite = _load_for_lite_interpreter(str(out))
    for h, w in [(64, 64), (50, 300), (300, 50), (17, 23), (481, 640)]:
        probs = lite(random_image(h + w, (h, w)))
        assert probs.shape == (4,)
        assert torch.isclose(probs.sum(), torch.tensor(1.0), atol=1e-5)


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


def test_script_method(tiny_ckpt, tmp_path):
    out = tmp_path / "s.ptl"
    res = build(str(tiny_ckpt), BuildOptions(output=str(out), method="script"), report=lambda m: None)
    assert res.manifest["options"]["method"] == "script"
    assert res.manifest["validation"]["passed"]


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
