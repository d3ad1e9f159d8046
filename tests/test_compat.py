"""Every artifact kind edgepack builds, run for real in torch 2.1.0's lite interpreter.

torch 2.1.0's lite interpreter is the code inside `pytorch_android_lite` 2.1.0, the last Android
release (DESIGN.md, "Old runtime"). These tests need the old-runtime environment: `make
test-compat` creates it (`make setup-compat`: .venv-compat from compat/requirements.txt) and runs
`pytest -m compat`. Asked for explicitly (`-m compat` or EDGEPACK_COMPAT=1) without that
environment they fail; otherwise (a plain `pytest tests`) the old-runtime tests skip, so the unit
leg stays fast. The usage-error tests at the end need no old runtime and always run.

All artifacts are built first and run in ONE old-runtime process (torch 2.1 takes seconds to
import); each test then reads its artifact's report.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import sys
import time
import zipfile

import pytest
import torch

from edgepack import BuildOptions, build
import mutations  # noqa: E402  (tests/ is on sys.path)
from edgepack.compat import (RUNTIME_MAX_BYTECODE, backport_in_place, check_many, operator_problems,
                             runtime_python)
from edgepack.errors import EdgepackError
from edgepack.inspect import describe
from edgepack.manifest import MANIFEST_NAME, dumps, tensor_input_spec
from edgepack.models import ImageClassifier
from edgepack.optimize import xnnpack_available
from conftest import json_out, one_line_error, randomize_batchnorm, save_lightning_checkpoint

pytestmark = pytest.mark.compat

# name -> (checkpoint fixture, build options). The tiny resnet10t's XNNPACK rewrite changes its
# outputs (the build then drops passes), so the XNNPACK artifacts come from a small MobileNetV3,
# which keeps its prepacked ops. Quantized builds lower --min-agreement: the random tiny net has
# small class margins and int8 flips one of 8 synthetic frames; this leg checks the runtime, not
# the quantization quality (tests/test_quantize.py does that).
BUILDS = {
    "float-xnnpack-bilinear": ("mnv3", {}),
    "float-input-xnnpack": ("mnv3", {"input": "float"}),
    "portable-bicubic": ("tiny", {"optimize": "portable", "interpolation": "bicubic"}),
    "unoptimized-nearest": ("tiny", {"optimize": "none", "interpolation": "nearest"}),
    "dynamic-int8": ("tiny", {"quantize": "dynamic", "min_agreement": 0.5}),
    "static-int8": ("tiny", {"quantize": "static", "calib": "<shapes>", "calib_count": 8, "min_agreement": 0.5}),
    "build-bytecode-5": ("tiny", {"optimize": "portable", "interpolation": "bicubic", "bytecode_version": 5}),
    # --task embedding: pooled features + the L2 normalisation (check also asks for unit vectors)
    "embedding-xnnpack": ("mnv3", {"task": "embedding"}),
    "embedding-static-int8": ("tiny", {"task": "embedding", "quantize": "static", "calib": "<shapes>",
                                       "calib_count": 8, "min_cosine": 0.9, "min_agreement": 0.5}),
    # segmentation: the mask at the frame's size (upsample + argmax in the file; check compares masks)
    "segmentation-xnnpack": ("seg", {}),
    "segmentation-letterbox-probabilities": ("seg", {"resize_policy": "letterbox", "output_kind": "probabilities"}),
    "segmentation-static-int8": ("seg", {"quantize": "static", "calib": "<shapes>", "calib_count": 8,
                                         "min_pixel_agreement": 0.3, "max_miou_drop": 1.0}),
}
# name -> (built artifact, bytecode version): `backport_in_place`, what build --bytecode-version runs.
BACKPORTS = {
    "float-xnnpack-bilinear@v7": ("float-xnnpack-bilinear", 7),
    "float-xnnpack-bilinear@v6": ("float-xnnpack-bilinear", 6),
    "float-xnnpack-bilinear@v5": ("float-xnnpack-bilinear", 5),
    "float-xnnpack-bilinear@v4": ("float-xnnpack-bilinear", 4),
    "static-int8@v5": ("static-int8", 5),
    "dynamic-int8@v6": ("dynamic-int8", 6),
}
ALL = list(BUILDS) + list(BACKPORTS)
# Known not to run in 2.1 yet (strict: when fixed, the XPASS fails and the entry must go).
# Artifact kinds known not to run in 2.1 (none since preprocess.py calls the resize ops directly).
KNOWN_BROKEN: dict = {}


def _requested(config) -> bool:
    return "compat" in (config.option.markexpr or "") or os.environ.get("EDGEPACK_COMPAT") == "1"


@pytest.fixture(scope="session")
def compat_python(request):
    if not _requested(request.config):
        pytest.skip("old-runtime leg: run 'make test-compat' (pytest -m compat)")
    try:
        return runtime_python("2.1")
    except EdgepackError as exc:  # asked for and not there: that is a failure, not a skip
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def mnv3_ckpt(tmp_path_factory):
    model = ImageClassifier(backbone="mobilenetv3_small_050", num_classes=4, labels=["a", "b", "c", "d"],
                            data_config={"input_size": (3, 64, 64), "interpolation": "bilinear", "crop_pct": 0.875,
                                         "crop_mode": "center", "mean": (0.485, 0.456, 0.406),
                                         "std": (0.229, 0.224, 0.225)})
    randomize_batchnorm(model, seed=1)
    path = tmp_path_factory.mktemp("mnv3") / "mnv3.ckpt"
    return save_lightning_checkpoint(path, model.eval(), dict(model.hparams), extra={"hparams_name": "kwargs"})


def _needs_missing_op(path: pathlib.Path) -> pathlib.Path:
    """A lite file whose bytecode calls an operator torch 2.1 does not have (scripted
    F.interpolate with a non-constant mode pulls in every mode, lanczos included)."""

    class Resize(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mode = "bilinear"

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.interpolate(x, size=[8, 8], mode=self.mode, align_corners=False).flatten(1)

    # a complete manifest (check refuses one that does not describe the model), output [1, 3*8*8]
    manifest = {"schema": 1, "format": "ptl", "task": "multiclass", "labels": None, "preprocess": {},
                "input": tensor_input_spec(16, 16), "quantization": {"mode": "none"},
                "output": {"kind": "logits", "activation": "none", "dtype": "float32", "num_classes": 192,
                           "shape": [1, 192]}}
    torch.jit.script(Resize())._save_for_lite_interpreter(str(path), _extra_files={MANIFEST_NAME: dumps(manifest)})
    return path


@pytest.fixture(scope="session")
def compat_results(compat_python, tiny_ckpt, mnv3_ckpt, tiny_seg_ckpt, shapes_dir, tmp_path_factory):
    """{name: (built path or None, build error or None, check report or None)}; all built here."""
    root = tmp_path_factory.mktemp("compat")
    ckpts = {"tiny": tiny_ckpt, "mnv3": mnv3_ckpt, "seg": tiny_seg_ckpt}
    built, errors, timings = {}, {}, {}
    for name, (ckpt, options) in BUILDS.items():
        options = {k: (str(shapes_dir) if v == "<shapes>" else v) for k, v in options.items()}
        out = root / f"{name}.ptl"
        start = time.perf_counter()
        try:
            build(str(ckpts[ckpt]), BuildOptions(output=str(out), **options), report=lambda m: None)
            built[name] = out
        except EdgepackError as exc:
            errors[name] = f"build failed: {exc}"
        timings[name] = time.perf_counter() - start
    for name, (base, version) in BACKPORTS.items():
        if base not in built:
            errors[name] = f"no {base} artifact to backport"
            continue
        out = root / f"{name.replace('@', '_')}.ptl"
        copied = root / f"{name.replace('@', '_')}.digested.ptl"
        shutil.copy(built[base], copied)
        try:
            backport_in_place(copied, version)
            # A file backported after its build no longer matches the digests in its manifest (the
            # build's own --bytecode-version backports before taking them): drop them, as for a file
            # from before the digests existed, so the old runtime still gets to run it.
            manifest = mutations.read_manifest(copied)
            mutations.with_manifest(copied, out, {k: v for k, v in manifest.items() if k != "integrity"})
            built[name] = out
        except EdgepackError as exc:
            errors[name] = f"backport failed: {exc}"
    built["needs-missing-op"] = _needs_missing_op(root / "needs_missing_op.ptl")
    start = time.perf_counter()
    names = list(built)
    reports = dict(zip(names, check_many([built[n] for n in names], runtime="2.1", python=str(compat_python))))
    timings["check_many"] = time.perf_counter() - start
    print("\nold-runtime results (torch 2.1.0 lite interpreter vs this torch's):", file=sys.stderr)
    for name in names:
        r = reports[name]
        c = r["comparison"] or {}
        print(f"  {name:28s} v{r['bytecode_version']} {'PASS' if r['passed'] else 'FAIL'} "
              f"rel {c.get('max_rel_err')} abs {c.get('max_abs_err')} cos {c.get('min_cosine')} "
              f"top1 {c.get('top1_agreement')} {r['reason'] or ''}", file=sys.stderr)
    for name, err in errors.items():
        print(f"  {name:28s} {err}", file=sys.stderr)
    print("  timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()), file=sys.stderr)
    return {name: (built.get(name), errors.get(name), reports.get(name)) for name in ALL + ["needs-missing-op"]}


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BROKEN[n])) if n in KNOWN_BROKEN else n
    for n in ALL])
def test_artifact_runs_in_torch_2_1(compat_results, name):
    path, error, report = compat_results[name]
    assert error is None, error
    assert report["loaded"] and report["ran"], report["reason"]
    assert report["operator_problems"] == []
    assert report["passed"], report["reason"]
    assert report["runtime_torch"].startswith("2.1.")
    assert report["bytecode_version"] <= RUNTIME_MAX_BYTECODE["2.1"]


def test_artifact_kinds_are_what_they_claim(compat_results):
    """The leg covers what it says: XNNPACK prepacked ops, int8 ops, old bytecode versions."""
    info = {name: describe(path) for name, (path, error, _) in compat_results.items() if path is not None}
    if xnnpack_available():
        assert info["float-xnnpack-bilinear"]["xnnpack_prepacked"]
        assert info["float-input-xnnpack"]["xnnpack_prepacked"]
    assert info["static-int8"]["quantized_ops"] and info["dynamic-int8"]["quantized_ops"]
    assert info["static-int8"]["manifest"]["quantization"]["engine"] == "qnnpack"
    assert info["build-bytecode-5"]["bytecode_version"] == 5
    assert info["embedding-static-int8"]["quantized_ops"]
    assert {info[n]["manifest"]["task"] for n in ("embedding-xnnpack", "embedding-static-int8")} == {"embedding"}
    assert info["segmentation-static-int8"]["quantized_ops"]
    assert info["segmentation-xnnpack"]["manifest"]["output"]["kind"] == "mask"
    assert info["segmentation-letterbox-probabilities"]["manifest"]["preprocess"]["resize_policy"] == "letterbox"
    for name, (_, version) in BACKPORTS.items():
        assert info[name]["bytecode_version"] == version
    assert info["unoptimized-nearest"]["manifest"]["preprocess"]["interpolation"] == "nearest"
    assert info["portable-bicubic"]["manifest"]["preprocess"]["interpolation"] == "bicubic"


def test_missing_operator_is_reported_not_raised(compat_results):
    path, _, report = compat_results["needs-missing-op"]
    assert not report["passed"] and not report["loaded"]
    assert "does not load" in report["reason"] and "_upsample_lanczos2d_aa" in report["reason"]
    assert report["operator_problems"] == ["aten::_upsample_lanczos2d_aa.vec does not exist in torch 2.1"]
    assert operator_problems(path, "2.1") == report["operator_problems"]


def test_check_command(cli, compat_results, tmp_path):
    path = compat_results["dynamic-int8"][0]
    assert path is not None
    report = json_out(cli("check", path, "--json", expect=0))
    assert report["passed"] and report["quantized"] and report["engine"] == "qnnpack"
    res = cli("check", path, expect=0)
    assert res.stdout.startswith("PASS ") and "2.1.0" in res.stdout
    res = cli("check", compat_results["needs-missing-op"][0], expect=1)
    assert "does not load" in one_line_error(res)
    # A file from a newer torch (bytecode 10) that this torch cannot read either: input error.
    newer = tmp_path / "v10.ptl"
    _set_bytecode_version(path, newer, 10)
    res = cli("check", newer, expect=2)
    assert "between 4 and 9" in one_line_error(res)


def _set_bytecode_version(src: pathlib.Path, dst: pathlib.Path, version: int) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("/bytecode.pkl"):
                assert data[:3] == b"\x80\x02K"  # protocol 2, BININT1 version
                data = data[:3] + bytes([version]) + data[4:]
            elif info.filename.endswith("/extra/edgepack.json"):
                # The edited bytecode no longer matches the digests: drop them (as in a file from
                # before they existed), so that the version check is what refuses it.
                import json

                data = json.dumps({k: v for k, v in json.loads(data).items() if k != "integrity"}).encode()
            zout.writestr(info.filename, data)


# --- no old runtime needed ----------------------------------------------------------------------

def test_check_without_environment_says_how_to_make_it(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("EDGEPACK_COMPAT_PYTHON", raising=False)
    res = cli("check", tmp_path / "x.ptl", "--python", tmp_path / "nope" / "python", expect=2)
    assert "does not exist" in one_line_error(res)
    import edgepack.compat as compat

    checkout = tmp_path / "checkout"  # a source checkout without .venv-compat: the make target
    (checkout).mkdir()
    (checkout / "Makefile").write_text("setup-compat:\n")
    monkeypatch.setattr(compat, "REPO_ROOT", checkout)
    res = cli("check", tmp_path / "x.ptl", expect=2)
    assert "make setup-compat" in one_line_error(res)
    # an installed package (a wheel: no Makefile next to it) has no make target to offer
    monkeypatch.setattr(compat, "REPO_ROOT", tmp_path / "site-packages")
    res = cli("check", tmp_path / "x.ptl", expect=2)
    line = one_line_error(res)
    assert "make" not in line and "--python PATH" in line and "EDGEPACK_COMPAT_PYTHON" in line


def test_check_usage_errors(cli, tmp_path):
    res = cli("check", tmp_path / "x.ptl", "--runtime", "1.9", expect=2)
    assert "no old-runtime environment" in one_line_error(res)
    (tmp_path / "text.ptl").write_text("nope")
    if _has_env():
        res = cli("check", tmp_path / "text.ptl", expect=2)
        assert "not a TorchScript" in one_line_error(res)


def _has_env() -> bool:
    try:
        runtime_python("2.1")
        return True
    except EdgepackError:
        return False
