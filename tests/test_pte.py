"""The ExecuTorch `.pte` format: build, reload with ExecuTorch's runtime, gates, manifest, tools.

Each build lowers a whole pipeline (about 30 s here), so the builds are module-scoped and shared.
"""
from __future__ import annotations

import hashlib
import json
import pathlib

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("executorch")

from conftest import json_out, one_line_error, random_image  # noqa: E402

from edgepack.formats import pte  # noqa: E402
from edgepack.formats.stock_resize import StockResize, max_scale, tap_count  # noqa: E402
from edgepack.pipeline import ImagePipeline  # noqa: E402
from edgepack.preprocess import ImagePreprocess, PreprocessConfig  # noqa: E402
from edgepack.sources import load_source  # noqa: E402


def _sha(path) -> str:
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def _build(tmp, name, source, *args):
    from click.testing import CliRunner

    from edgepack.cli import main

    out = tmp / name
    result = CliRunner().invoke(main, ["build", str(source), "-o", str(out), "--json", *map(str, args)])
    return out, result


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_ckpt, shapes_dir):
    tmp = tmp_path_factory.mktemp("pte")
    out, result = _build(tmp, "tiny.pte", tiny_ckpt, "--val", shapes_dir)
    assert result.exit_code == 0, result.stderr
    return out, json.loads(result.stdout)


def test_build_writes_a_validated_pte_with_the_manifest_inside(built, tiny_ckpt):
    out, report = built
    assert out.read_bytes()[4:8] == b"ET12"
    manifest = pte.read_manifest(out)  # through ExecuTorch's runtime, the app's way
    assert manifest == report["manifest"]
    assert manifest["format"] == "pte" and manifest["executorch"]["version"] == pte.executorch_version()
    assert manifest["input"]["kind"] == "image" and manifest["input"]["max_side"] == pte.DEFAULT_MAX_SIDE
    assert manifest["labels"] == ["a", "b", "c", "d"]
    val = manifest["validation"]
    assert val["passed"] and val["max_rel_err"] <= 1e-3 and "--val" in val["inputs"]
    opt = manifest["optimizer"]
    assert opt["path"] == "xnnpack" and opt["delegated_ops"] > 0 and opt["portable_ops"]
    # planned working memory is recorded and small at the default max side
    assert 0 < manifest["memory"]["planned_bytes"] < 64e6
    assert pte.MANIFEST_METHOD in pte.PteModule(out).program.method_names


def test_pte_runs_any_frame_size_and_matches_the_eager_model(built, tiny_ckpt):
    out, report = built
    src = load_source(str(tiny_ckpt))
    cfg = PreprocessConfig.from_data_config(src.data_config)
    eager = ImagePipeline(StockResize(cfg, pte.DEFAULT_MAX_SIDE), src.model, "softmax").eval()
    module = pte.PteModule(out)
    for i, (h, w, c) in enumerate([(16, 16, 3), (480, 640, 4), (1920, 1080, 3), (1080, 1920, 4), (97, 1300, 3)]):
        frame = torch.randint(0, 256, (h, w, c), dtype=torch.uint8, generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            ref = eager(frame)
        got = module(frame)
        assert got.shape == (4,)
        assert torch.allclose(got, ref, atol=1e-4), (h, w, c, (got - ref).abs().max())
        if c == 4:  # alpha is ignored
            assert torch.allclose(module(frame[:, :, :3].contiguous()), got, atol=1e-6)


def test_pte_never_answers_silently_for_frames_beyond_its_max_side(built):
    """ExecuTorch only checks sizes against planned capacities, so a 1921 x 64 frame runs: the
    graph must poison its output (NaN) rather than answer from windows too small for its scale
    (a wider frame overflows a planned buffer and the runtime errors), and the Python side
    refuses such frames with a clear error before running."""
    out, _ = built
    module = pte.PteModule(out)
    assert torch.isnan(module(torch.zeros(pte.DEFAULT_MAX_SIDE + 1, 64, 3, dtype=torch.uint8))).all()
    with pytest.raises(RuntimeError):
        module(torch.zeros(64, 3000, 3, dtype=torch.uint8))
    for shape in [(pte.DEFAULT_MAX_SIDE + 1, 64, 3), (64, 3000, 3)]:
        frame = torch.zeros(*shape, dtype=torch.uint8)
        with pytest.raises(pte.EdgepackError, match="scale the image down"):
            module.check_frame(frame, pte.DEFAULT_MAX_SIDE)
    assert torch.isfinite(module(torch.zeros(pte.DEFAULT_MAX_SIDE, 64, 3, dtype=torch.uint8))).all()


def test_rebuild_is_byte_identical(built, tiny_ckpt, shapes_dir, tmp_path):
    out, _ = built
    again, result = _build(tmp_path, "tiny.pte", tiny_ckpt, "--val", shapes_dir)
    assert result.exit_code == 0, result.stderr
    assert _sha(again) == _sha(out)


def test_predict_inspect_and_bench_take_pte(built, cli, tmp_path):
    out, _ = built
    img = tmp_path / "frame.png"
    Image.fromarray(random_image(3, (300, 200)).numpy()).save(img)
    res = json_out(cli("predict", out, img, "--json", expect=0))["results"][0]
    assert abs(sum(t["probability"] for t in res["top_k"]) - 1) < 1e-4
    # a photo beyond max_side is scaled to fit, and the result says so
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((2000, 2500, 3), dtype=np.uint8)).save(big)
    res = json_out(cli("predict", out, big, "--json", expect=0))["results"][0]
    assert res["size"] == [2500, 2000] and max(res["scaled_to"]) == pte.DEFAULT_MAX_SIDE
    info = json_out(cli("inspect", out, "--json", expect=0))
    assert info["format"].startswith("ExecuTorch") and info["manifest"]["format"] == "pte"
    assert "aten::index_select.out" in {op["name"] for op in info["operators"]}
    assert info["delegates"].get("XnnpackBackend", 0) >= 1 and info["planned_bytes"] > 0
    text = cli("inspect", out, expect=0).stdout
    assert "planned memory" in text and "delegated" in text
    result = json_out(cli("bench", out, "--runs", "2", "--warmup", "0", "--json", expect=0))
    assert result["format"] == "pte" and result["runtime"].startswith("ExecuTorch") and result["p50_ms"] > 0
    report = json_out(cli("check", out, "--json", expect=0))
    assert report["passed"] and any("largest side" in c for c in report["checks"])


def test_predict_agrees_with_the_ptl_on_the_example_images(tmp_path, example_ckpt, cli):
    images = sorted(str(p) for p in (pathlib.Path(__file__).parents[1] / "examples" / "images").rglob("*.png"))
    ptl, r1 = _build(tmp_path, "ex.ptl", example_ckpt)
    pte_file, r2 = _build(tmp_path, "ex.pte", example_ckpt)
    assert r1.exit_code == 0 and r2.exit_code == 0, r2.stderr
    a = json_out(cli("predict", ptl, *images, "--json", "--top-k", "1", expect=0))["results"]
    b = json_out(cli("predict", pte_file, *images, "--json", "--top-k", "1", expect=0))["results"]
    assert [x["top_k"][0]["label"] for x in a] == [x["top_k"][0]["label"] for x in b]
    for x, y in zip(a, b):
        assert abs(x["top_k"][0]["probability"] - y["top_k"][0]["probability"]) < 0.05


def test_float_input_pte(tmp_path, tiny_ckpt):
    out, result = _build(tmp_path, "f.pte", tiny_ckpt, "--input", "float")
    assert result.exit_code == 0, result.stderr
    manifest = pte.read_manifest(out)
    assert manifest["input"]["kind"] == "tensor" and manifest["input"]["shape"] == [1, 3, 64, 64]
    x = torch.randn(1, 3, 64, 64)
    src = load_source(str(tiny_ckpt))
    with torch.no_grad():
        ref = torch.softmax(src.model(x), -1)
    assert torch.allclose(pte.PteModule(out)(x), ref, atol=1e-5)


def test_failed_gate_writes_nothing_and_accept_mismatch_keeps_a_marked_file(tmp_path, tiny_ckpt):
    out, result = _build(tmp_path, "strict.pte", tiny_ckpt, "--rtol", "0", "--optimize", "none")
    assert result.exit_code == 1 and not out.exists()
    assert "validation failed" in one_line_error(result)
    assert not list(tmp_path.glob(".*tmp"))
    out, result = _build(tmp_path, "kept.pte", tiny_ckpt, "--rtol", "0", "--optimize", "none", "--accept-mismatch")
    assert result.exit_code == 1 and out.exists()
    manifest = pte.read_manifest(out)
    assert manifest["validation"]["passed"] is False and manifest["optimizer"]["path"] == "portable"


def test_static_int8_pte(tmp_path, tiny_ckpt, shapes_dir):
    out, result = _build(tmp_path, "q.pte", tiny_ckpt, "--quantize=static", "--calib", shapes_dir, "--val", shapes_dir,
                         "--min-agreement", "0.5")
    assert result.exit_code == 0, result.stderr
    manifest = pte.read_manifest(out)
    q = manifest["quantization"]
    assert q["mode"] == "static" and q["method"] == "pt2e" and q["calibration_images"] > 0
    assert manifest["validation"]["judged_on"] == "--val images"
    assert "vs_quantized_eager" in manifest["validation"]


def test_dynamic_int8_with_dropout_before_the_classifier():
    """timm heads put a dropout before fc (regnetx_002 in the bundled example). Putting the
    exported graph in eval mode after annotation orphaned the dynamic quantizer's choose_qparams
    node, and the example's dynamic .pte build failed ('PortNodeMetaForQDQ')."""
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Dropout(0.2), torch.nn.Linear(8, 4)).eval()
    quantized, info = pte._quantize_pt2e(net, "dynamic", [], (32, 32), report=lambda m: None)
    targets = [str(n.target) for n in quantized.graph.nodes]
    assert info["mode"] == "dynamic" and any("choose_qparams" in t for t in targets), targets
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(quantized(x), net(x), atol=0.05)


@pytest.mark.parametrize("args, words", [
    (["--bytecode-version", "7"], "bytecode"),
    (["--runtime", "2.1"], "lite-interpreter"),
    (["--method", "script"], "torch.export"),
    (["--target", "x86"], "XNNPACK"),
    (["--max-side", "8"], "--max-side"),
    (["--format", "ptl"], ".ptl or drop --format"),
])
def test_options_that_do_not_apply_are_refused(tmp_path, tiny_ckpt, cli, args, words):
    result = cli("build", tiny_ckpt, "-o", tmp_path / "x.pte", *args, expect=2)
    assert words in one_line_error(result)
    assert not (tmp_path / "x.pte").exists()


def test_format_from_suffix_and_flag(tmp_path):
    from edgepack import BuildOptions
    from edgepack.formats import resolve_format

    assert resolve_format(BuildOptions(output="a.pte")) == "pte"
    assert resolve_format(BuildOptions(output="a.ptl")) == "ptl"
    assert resolve_format(BuildOptions(output=None, format="pte")) == "pte"
    assert resolve_format(BuildOptions(output="model.bin")) == "ptl"


def test_damaged_pte_is_refused_cleanly(built, cli, tmp_path):
    out, _ = built
    data = bytearray(out.read_bytes())
    truncated = tmp_path / "cut.pte"
    truncated.write_bytes(bytes(data[: len(data) // 3]))
    for command in (["inspect", truncated], ["predict", truncated, __file__]):
        result = cli(*command)
        assert result.exit_code == 2, result.stderr
        one_line_error(result)


@pytest.mark.parametrize("mode", ["center", "squash", "border"])
@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_stock_resize_is_close_to_the_ptl_preprocessing(mode, interpolation):
    """StockResize (stock ops) against ImagePreprocess (torch's uint8 antialiased kernels = PIL's
    algorithm): the pass order differs (vertical first always), which moves the intermediate
    rounding and, at hard edges, bicubic's clamping: a few levels at most, a small fraction of a
    level on average."""
    cfg = PreprocessConfig(input_size=(56, 48), interpolation=interpolation, crop_mode=mode, crop_pct=0.9)
    stock, ref = StockResize(cfg, 1920).eval(), ImagePreprocess(cfg).eval()
    level = 1.0 / (255 * min(cfg.std))
    for i, (h, w) in enumerate([(480, 640), (640, 480), (1080, 1920), (333, 97)]):
        frame = random_image(i, (h, w))
        with torch.no_grad():
            diff = (stock(frame) - ref(frame)).abs()
        assert diff.max() <= 4.01 * level, (h, w, diff.max() / level)
        assert diff.mean() <= 0.1 * level, (h, w, diff.mean() / level)


@pytest.mark.parametrize("mode", ["center", "squash", "border"])
def test_stock_resize_windows_hold_every_tap(mode):
    """Each block gathers a window sized from the frame's symbolic size (bounded by the planned
    one); a tap outside it would be folded in silently. Checked in eager mode over extreme sizes
    and aspect ratios, for a small and a large network input."""
    gen = torch.Generator().manual_seed(0)
    for size in [(64, 64), (224, 160)]:
        for interpolation in ("bicubic", "bilinear"):
            cfg = PreprocessConfig(input_size=size, crop_mode=mode, interpolation=interpolation)
            module = StockResize(cfg, 1920)
            module.check_windows = True
            for h, w in [(16, 1920), (1920, 16), (1920, 1920), (17, 1919), (1000, 33), (64, 64), (16, 16),
                         (1079, 1920), (1920, 1079), (250, 251)]:
                frame = torch.randint(0, 256, (h, w, 3), dtype=torch.uint8, generator=gen)
                with torch.no_grad():
                    assert torch.isfinite(module(frame)).all()
        assert tap_count("bicubic", max_scale(cfg, 1920)) >= 4 * max_scale(cfg, 1920)


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_pte_preprocessing_is_bit_identical_to_the_eager_reference(interpolation):
    """Validation compares the file with the eager pipeline; the resize must round every pixel the
    same way in both (exact integer arithmetic in the matrix products, sums of float64 weights in a
    fixed order), or a pixel one level off makes a small model miss --rtol."""
    cfg = PreprocessConfig(input_size=(64, 64), interpolation=interpolation)
    module = StockResize(cfg, 1920).eval()
    exported = pte._export(module, torch.zeros(240, 320, 3, dtype=torch.uint8), 1920, True)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "resize.pte"
        path.write_bytes(pte.lower(exported, "{}", True).buffer)
        runtime = pte.PteModule(path)
        gen = torch.Generator().manual_seed(1)
        from edgepack.validate import synthetic_images

        frames = synthetic_images() + [torch.randint(0, 256, (h, w, 3), dtype=torch.uint8, generator=gen)
                                        for h, w in [(480, 640), (333, 97), (1080, 1920)]]
        for frame in frames:
            with torch.no_grad():
                assert torch.equal(runtime(frame), module(frame)), tuple(frame.shape)


def test_manifest_digest_and_byte_flips_in_the_body(built, cli, tmp_path):
    """The manifest records the digest of the program without its manifest string; one byte
    flipped anywhere in the body (weights, delegate blobs, the program table) is refused by
    predict, inspect and bench with "the file is damaged" (exit 2)."""
    from edgepack import integrity

    out, report = built
    data = out.read_bytes()
    module = pte.PteModule(out, verify=True)
    text = module.manifest_text()
    assert module.integrity["status"] == "verified"
    section = report["manifest"]["integrity"]
    assert section == {"algorithm": "sha256", "scheme": "pte-masked-manifest-v1",
                       "sha256": integrity.pte_masked_digest(data, text)}
    info = json_out(cli("inspect", out, "--json", expect=0))
    assert info["integrity"]["status"] == "verified"
    assert "integrity       verified" in cli("inspect", out, expect=0).stdout
    img = tmp_path / "frame.png"
    Image.fromarray(random_image(3, (120, 90)).numpy()).save(img)
    start = data.find(text.encode("utf-8"))
    for where in (0.55, 0.8, 0.95):  # inside the weights / delegate data, never the manifest
        pos = int(len(data) * where)
        assert not start <= pos < start + len(text.encode("utf-8"))
        bad = tmp_path / f"bad{where}.pte"
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        bad.write_bytes(bytes(flipped))
        for command in (["predict", bad, img], ["inspect", bad], ["bench", bad, "--runs", "1", "--warmup", "0"]):
            res = cli(*command)
            assert res.exit_code == 2, (command, res.stderr)
            assert "the file is damaged" in one_line_error(res), (command, res.stderr)
