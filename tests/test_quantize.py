"""int8 builds: dynamic and static, validated with the target's engine, honest reports."""
from __future__ import annotations

import pytest
import torch
from torch.jit.mobile import _load_for_lite_interpreter

from edgepack.manifest import read_manifest
from edgepack.quantize import mac_profile
from conftest import json_out, one_line_error


def test_dynamic_on_a_cnn_warns_and_reports_coverage(cli, example_ckpt, tmp_path):
    out = tmp_path / "dyn.ptl"
    res = cli("build", example_ckpt, "-o", out, "--quantize", "--json", expect=0)
    report = json_out(res)
    q = report["quantization"]
    assert q["mode"] == "dynamic" and q["engine"] == "qnnpack" and q["target"] == "mobile"
    assert q["compute_fraction"] < 0.05  # only the classifier is Linear
    assert "use --quantize=static" in q["warning"] and "warning:" in res.stderr
    assert report["validation"]["engine"] == "qnnpack"
    assert report["validation"]["top1_agreement"] >= 0.98
    assert read_manifest(out)["quantization"]["mode"] == "dynamic"


def test_static_with_calibration(cli, example_ckpt, shapes_dir, tmp_path):
    float_out = tmp_path / "float.ptl"
    cli("build", example_ckpt, "-o", float_out, expect=0)
    out = tmp_path / "static.ptl"
    # The example model is small and unsure on many images, so int8 flips a few of them; the
    # default 98% bar is exercised in test_agreement_threshold_fails_build.
    res = cli("build", example_ckpt, "-o", out, "--quantize", "static", "--calib", shapes_dir, "--calib-count", "24",
              "--val", shapes_dir, "--min-agreement", "0.9", "--json", expect=0)
    report = json_out(res)
    q = report["quantization"]
    assert q["mode"] == "static" and q["engine"] == "qnnpack"
    assert q["calibration_images"] == 24
    assert q["compute_fraction"] > 0.9
    v = report["validation"]
    assert v["judged_on"] == "--val images" and v["judged_top1_agreement"] >= 0.9
    assert v["accuracy_drop"] <= 0.1
    assert "accuracy" in v and "float_accuracy" in v
    assert out.stat().st_size < 0.5 * float_out.stat().st_size
    ops = set(torch.jit.mobile._export_operator_list(_load_for_lite_interpreter(str(out))))
    assert any(op.startswith("quantized::") for op in ops)


def test_static_needs_calibration(cli, example_ckpt, tmp_path):
    res = cli("build", example_ckpt, "-o", tmp_path / "s.ptl", "--quantize", "static", expect=2)
    assert "--calib" in one_line_error(res)
    assert not (tmp_path / "s.ptl").exists()


def test_x86_target_uses_x86_engine(cli, tiny_ckpt, tmp_path):
    res = cli("build", tiny_ckpt, "-o", tmp_path / "x.ptl", "--quantize", "--target", "x86", "--min-agreement", "0.5",
              "--json", expect=0)
    assert json_out(res)["quantization"]["engine"] == "x86"


def test_agreement_threshold_fails_build(cli, tiny_ckpt, shapes_dir, tmp_path):
    out = tmp_path / "q.ptl"
    res = cli("build", tiny_ckpt, "-o", out, "--quantize", "static", "--calib", shapes_dir, "--calib-count", "4",
              "--min-agreement", "1.0", "--rtol", "0", expect=None)
    if res.exit_code == 1:  # quantized outputs rarely agree on every random input
        assert "agreement" in one_line_error(res)
        assert not out.exists()
    else:
        assert res.exit_code == 0 and read_manifest(out)["validation"]["top1_agreement"] == 1.0


@pytest.mark.parametrize("engine", ["x86", "qnnpack"])
def test_static_quantization_leaves_the_float_model_untouched(tiny_classifier, engine):
    """quantize_static traces the caller's model without copying it (memory): the model must come
    out with the same modules, weights and outputs."""
    import copy

    from edgepack.quantize import quantize_static

    model = copy.deepcopy(tiny_classifier).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    modules = [(name, id(m)) for name, m in model.named_modules()]
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = engine
    try:
        qmodel, info = quantize_static(model, engine, [x[:1], x[1:]], (64, 64), report=lambda m: None)
    finally:
        torch.backends.quantized.engine = previous
    assert info["quantized_modules"] > 0 and qmodel is not model
    assert [(name, id(m)) for name, m in model.named_modules()] == modules
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items()) and len(state) == len(model.state_dict())
    with torch.no_grad():
        assert torch.equal(model(x), before)


def test_mac_profile_counts_convs_and_linears():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(8 * 4 * 4, 2))
    macs = mac_profile(net, (4, 4))
    assert macs == {"0": 8 * 4 * 4 * 27, "2": 2 * 128}
