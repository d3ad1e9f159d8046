"""The bundled preprocessing matches timm's own PIL eval pipeline, at any size and aspect ratio."""
from __future__ import annotations

import random

import numpy as np
import pytest
import timm.data
import torch
from PIL import Image

from edgepack.preprocess import ImagePreprocess, PreprocessConfig, _half_even_div2, _round_half_even
from conftest import random_image

pytestmark = pytest.mark.fallback

SIZES = [(16, 16), (17, 31), (32, 128), (128, 32), (100, 400), (400, 100), (224, 224), (225, 223),
         (480, 640), (1080, 1920), (61, 4000)]


def timm_reference(image: torch.Tensor, cfg: PreprocessConfig) -> torch.Tensor:
    transform = timm.data.create_transform(**cfg.to_timm_config(), is_training=False)
    return transform(Image.fromarray(image.numpy())).unsqueeze(0)


def photo_like(h: int, w: int, seed: int) -> torch.Tensor:
    """Smooth colour field + edges + a little noise, at any size (cheap for big frames)."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(1, 3, max(2, h // 40), max(2, w // 40), generator=gen)
    img = torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    img[:, :, h // 3: h // 2, w // 4: w // 2] = torch.rand(3, 1, 1, generator=gen)
    img = img + torch.randn(1, 3, h, w, generator=gen) * 0.03
    return (img.clamp(0, 1) * 255).round().to(torch.uint8)[0].permute(1, 2, 0).contiguous()


@pytest.fixture(scope="module")
def scripted_cache():
    cache = {}

    def get(cfg):
        if cfg not in cache:
            cache[cfg] = torch.jit.script(ImagePreprocess(cfg).eval())
        return cache[cfg]

    return get


@pytest.mark.parametrize("crop_mode", ["center", "squash", "border"])
@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_matches_timm_pil_pipeline(crop_mode, interpolation, scripted_cache):
    cfg = PreprocessConfig(input_size=(224, 224), interpolation=interpolation, crop_pct=0.875, crop_mode=crop_mode)
    pre = scripted_cache(cfg)
    diffs = []
    for i, (h, w) in enumerate(SIZES):
        image = photo_like(h, w, seed=i)
        ours = pre(image)
        ref = timm_reference(image, cfg)
        assert ours.shape == ref.shape == (1, 3, 224, 224), (h, w)
        diff = (ours - ref).abs()
        diffs.append(diff.mean().item())
        # Both resize uint8 with PIL's algorithm: at most 2 intensity levels apart on any pixel
        # (one level is 1/(255*std) ~ 0.017 normalised units), never a misplaced pixel.
        assert diff.mean().item() < 0.005, (h, w, diff.mean().item())
        assert diff.max().item() < 0.04, (h, w, diff.max().item())
    assert np.mean(diffs) < 0.001


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
@pytest.mark.parametrize("h,w", [(1074, 348), (673, 236), (200, 1200), (480, 640)])
def test_resize_follows_pillows_pass_order(h, w, interpolation, scripted_cache):
    """Pillow rounds to uint8 between its two resize passes and, since Pillow 13, runs the vertical
    one first when the height shrinks by more than twice as much as the width (the first two
    frames). In Pillow's order all but a few pixels are identical; in the other order about one in
    seven differed by a level, which flipped the answers of the trained example model."""
    cfg = PreprocessConfig(input_size=(64, 64), interpolation=interpolation, crop_pct=0.875)
    image = photo_like(h, w, seed=h + w)
    ours, ref = scripted_cache(cfg)(image), timm_reference(image, cfg)
    differing = ((ours - ref).abs() > 1e-4).float().mean().item()
    assert differing < 0.01, differing
    assert (ours - ref).abs().max().item() < 0.02  # one intensity level at most


@pytest.mark.parametrize("size,crop_pct", [((256, 192), 0.9), ((96, 96), 1.0), ((64, 80), 0.95)])
def test_non_square_and_full_crop(size, crop_pct, scripted_cache):
    cfg = PreprocessConfig(input_size=size, interpolation="bicubic", crop_pct=crop_pct)
    pre = scripted_cache(cfg)
    for i, (h, w) in enumerate([(300, 500), (77, 33), (512, 512)]):
        image = photo_like(h, w, seed=10 + i)
        ref = timm_reference(image, cfg)
        ours = pre(image)
        assert ours.shape == ref.shape
        assert (ours - ref).abs().mean().item() < 0.005
        assert (ours - ref).abs().max().item() < 0.04


def test_upscaling_small_images_and_padding(scripted_cache):
    # crop_pct > 1 makes the resized image smaller than the crop: timm/torchvision pad.
    cfg = PreprocessConfig(input_size=(64, 64), interpolation="bilinear", crop_pct=1.25)
    pre = scripted_cache(cfg)
    image = photo_like(40, 90, seed=3)
    torch.testing.assert_close(pre(image), timm_reference(image, cfg), atol=0.04, rtol=0)


def test_rgba_alpha_is_ignored(scripted_cache):
    cfg = PreprocessConfig(input_size=(64, 64))
    pre = scripted_cache(cfg)
    rgb = random_image(1, (70, 90))
    rgba = torch.cat([rgb, torch.zeros(70, 90, 1, dtype=torch.uint8)], 2)
    assert torch.equal(pre(rgb), pre(rgba))


@pytest.mark.parametrize("bad,message", [
    (torch.zeros(10, 10, 3, dtype=torch.uint8), "out of the supported range"),
    (torch.zeros(32, 32, 3, dtype=torch.float32), "uint8"),
    (torch.zeros(32, 32, 2, dtype=torch.uint8), "3 (RGB) or 4 (RGBA)"),
    (torch.zeros(1, 32, 32, 3, dtype=torch.uint8), "expected a uint8 image"),
])
def test_bad_inputs_raise_clear_errors(bad, message, scripted_cache):
    pre = scripted_cache(PreprocessConfig(input_size=(64, 64)))
    with pytest.raises(Exception, match=message.replace("(", r"\(").replace(")", r"\)")):
        pre(bad)


def test_rounding_helpers_match_python():
    rng = random.Random(0)
    for n in range(-3, 200):
        assert _half_even_div2(n) == int(round(n / 2.0))
    for _ in range(2000):
        x = rng.choice([rng.uniform(0, 1000), rng.randint(0, 1000) + 0.5])
        assert _round_half_even(x) == round(x)


def test_from_data_config_of_timm_models():
    import timm

    for name in ["resnet18", "deit_tiny_patch16_224", "efficientnet_b0", "convnext_atto"]:
        model = timm.create_model(name, pretrained=False, num_classes=0)
        data_cfg = timm.data.resolve_data_config({}, model=model)
        cfg = PreprocessConfig.from_data_config(data_cfg)
        assert cfg.input_size == tuple(data_cfg["input_size"][1:])
        assert cfg.crop_pct == pytest.approx(data_cfg["crop_pct"])
        assert cfg.interpolation == data_cfg["interpolation"]
