"""`edgepack predict`: any common image file in, the file's top-k out, clean errors for broken ones."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from edgepack import BuildOptions, build
from edgepack.images import read_image
from conftest import json_out, one_line_error, random_image



@pytest.fixture(scope="module")
def model_file(tiny_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("predict") / "m.ptl"
    build(str(tiny_ckpt), BuildOptions(output=str(out)), report=lambda m: None)
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    rgb = Image.fromarray(random_image(5, (90, 120)).numpy())
    files = {}
    for name, fmt in [("photo.jpg", "JPEG"), ("photo.png", "PNG"), ("photo.webp", "WEBP")]:
        rgb.save(root / name, fmt)
        files[name] = root / name
    rgb.convert("L").save(root / "gray.png")
    rgb.convert("P").save(root / "palette.png")
    rgb.convert("CMYK").save(root / "cmyk.jpg")
    rgb.convert("RGBA").save(root / "alpha.png")
    Image.fromarray((np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)).save(root / "gray16.png")
    # A portrait photo stored landscape + EXIF orientation 6 (rotate 90° clockwise to view).
    exif = Image.Exif()
    exif[0x0112] = 6
    rgb.save(root / "rotated.jpg", "JPEG", exif=exif.tobytes())
    for name in ["gray.png", "palette.png", "cmyk.jpg", "alpha.png", "gray16.png", "rotated.jpg"]:
        files[name] = root / name
    data = (root / "photo.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (root / "empty.png").write_bytes(b"")
    (root / "text.jpg").write_text("not an image")
    return root, files


def test_decoding_conversions(images):
    _, files = images
    for name, path in files.items():
        img = read_image(path)
        assert img.dtype == torch.uint8 and img.shape[2] == 3, name
    assert read_image(files["rotated.jpg"]).shape[:2] == (120, 90)  # EXIF applied: now portrait
    gray16 = read_image(files["gray16.png"])
    gray8 = read_image(files["gray.png"])
    assert (gray16.int() - gray8.int()).abs().max() <= 1  # 16-bit scaled, not clipped


@pytest.mark.fallback
def test_predict_all_formats(cli, model_file, images):
    _, files = images
    res = cli("predict", model_file, *files.values(), "--top-k", "2", "--json", expect=0)
    doc = json_out(res)
    assert len(doc["results"]) == len(files)
    for item in doc["results"]:
        assert len(item["top_k"]) == 2
        assert item["top_k"][0]["label"] in {"a", "b", "c", "d"}
        assert item["top_k"][0]["probability"] >= item["top_k"][1]["probability"]


def test_predict_human_output(cli, model_file, images):
    _, files = images
    res = cli("predict", model_file, files["photo.png"], expect=0)
    assert str(files["photo.png"]) in res.stdout and "%" in res.stdout


@pytest.mark.parametrize("name,reason", [("truncated.jpg", "broken image"), ("empty.png", "not a readable image"),
                                         ("text.jpg", "not a readable image"), ("missing.png", "no such file")])
def test_broken_images_reported_others_still_run(cli, model_file, images, name, reason):
    root, files = images
    res = cli("predict", model_file, files["photo.png"], root / name, "--json", expect=2)
    assert reason in one_line_error(res) and name in one_line_error(res)
    doc = json_out(res)
    assert "top_k" in doc["results"][0] and "error" in doc["results"][1]


def test_pixel_limit(cli, model_file, images):
    _, files = images
    res = cli("predict", model_file, files["photo.png"], "--max-pixels", "1000", expect=2)
    assert "pixel limit" in one_line_error(res)


def test_decompression_bomb(cli, model_file, tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("L", (12000, 12000)).save(bomb, optimize=True)  # tiny file, 144 MP
    assert bomb.stat().st_size < 1_000_000
    res = cli("predict", model_file, bomb, expect=2)
    assert "pixel limit" in one_line_error(res)


def test_predict_on_bad_model_files(cli, images, tmp_path):
    _, files = images
    bad = tmp_path / "bad.ptl"
    bad.write_text("nope")
    res = cli("predict", bad, files["photo.png"], expect=2)
    assert "not a TorchScript" in one_line_error(res)


def test_predict_matches_direct_lite_call(model_file, images):
    from edgepack.predict import Predictor

    _, files = images
    p = Predictor(model_file)
    direct = p.module(read_image(files["photo.png"]))
    top = p.predict_file(files["photo.png"], top_k=1)["top_k"][0]
    assert top["index"] == int(direct.argmax())
    assert abs(top["probability"] - float(direct.max())) < 1e-5


def test_png_bytes_roundtrip_is_lossless(tmp_path):
    arr = random_image(9, (33, 47)).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    path = tmp_path / "x.png"
    path.write_bytes(buf.getvalue())
    assert np.array_equal(read_image(path).numpy(), arr)


@pytest.mark.parametrize("size", [(20000, 300), (300, 9000), (12, 400)])
def test_image_sides_are_checked_from_the_header_before_decoding(cli, model_file, tmp_path, monkeypatch, size):
    """A 20000-px-wide PNG with a raised --max-pixels used to be decoded (seconds, GBs) before the
    per-side limit refused it; the size is in the header, so nothing is decoded now."""
    from PIL import ImageFile

    path = tmp_path / "wide.png"
    Image.new("L", size).save(path, optimize=True)

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("the image was decoded before its size was checked")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    res = cli("predict", model_file, path, "--max-pixels", "500000000", expect=2)
    assert f"{size[0]}x{size[1]} image is outside the 16..8192 px per side" in one_line_error(res)
