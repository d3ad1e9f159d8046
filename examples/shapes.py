"""A procedurally generated, labelled image data set: coloured shapes on textured backgrounds,
with exact pixel masks for segmentation (`draw_scene`, `generate_segmentation`).

Nothing is downloaded. Every image is drawn from a seed, so `generate(root, seed)` gives the same
files on every machine. Images vary in size (64..400 px) and aspect ratio (1:2.5 .. 2.5:1),
shape size, position, rotation, colours and background texture, which is what makes the bundled
resize/crop path matter.
"""
from __future__ import annotations

import math
import pathlib
import random
from typing import Iterable, List, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Sorted, because torchvision ImageFolder numbers classes in sorted folder order.
CLASSES = sorted(["circle", "square", "triangle", "star", "cross", "ring"])


def _background(rng: random.Random, w: int, h: int) -> Image.Image:
    kind = rng.randrange(3)
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    if kind == 0:  # two-colour gradient
        c0 = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float32)
        c1 = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float32)
        angle = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = (xx * math.cos(angle) + yy * math.sin(angle))
        t = (t - t.min()) / max(float(np.ptp(t)), 1.0)
        arr = c0 * (1 - t[..., None]) + c1 * t[..., None]
    elif kind == 1:  # smooth blotches
        low = nrng.uniform(0, 255, size=(max(2, h // 24), max(2, w // 24), 3)).astype(np.uint8)
        arr = np.asarray(Image.fromarray(low).resize((w, h), Image.BICUBIC), dtype=np.float32)
    else:  # stripes
        period = rng.uniform(4, 20)
        xx = np.arange(w, dtype=np.float32)[None, :, None]
        base = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float32)
        arr = np.broadcast_to(base * (0.75 + 0.25 * np.sin(xx / period)), (h, w, 3))
    arr = arr + nrng.normal(0, rng.uniform(2, 14), size=(h, w, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _polygon(cx, cy, r, n, rot, inner=None) -> List[Tuple[float, float]]:
    pts = []
    steps = n * 2 if inner else n
    for i in range(steps):
        radius = (inner if inner and i % 2 else r)
        a = rot + 2 * math.pi * i / steps
        pts.append((cx + radius * math.cos(a), cy + radius * math.sin(a)))
    return pts


def draw_shape(label: str, rng: random.Random, size: Tuple[int, int]) -> Image.Image:
    """One scene: `label`'s shape on a textured background (see `draw_scene` for its mask)."""
    return draw_scene(label, rng, size)[0]


def draw_scene(label: str, rng: random.Random, size: Tuple[int, int]) -> Tuple[Image.Image, Image.Image]:
    """(image, mask): the scene of `draw_shape` (same random draws, same pixels) and an 8-bit
    mask of where the shape was drawn, 0 for background and `CLASSES.index(label) + 1` for the
    shape. The same polygons are filled into both, so the mask is exact; the occasional blur
    softens the image's edges only, as a camera would."""
    w, h = size
    img = _background(rng, w, h)
    mask = Image.new("L", (w, h), 0)
    # Subjects sit near the middle, as in photos: eval transforms centre-crop the shorter side,
    # so on a 2.5:1 frame anything near the far ends is cropped away.
    short = min(w, h)
    r = rng.uniform(0.18, 0.32) * short
    slack = max(0.0, short / 2 - r) * 0.8
    cx = w / 2 + rng.uniform(-slack, slack)
    cy = h / 2 + rng.uniform(-slack, slack)
    rot = rng.uniform(0, 2 * math.pi)
    colour = tuple(rng.randrange(256) for _ in range(3))
    for target, fill in ((img, colour), (mask, CLASSES.index(label) + 1)):
        _draw(ImageDraw.Draw(target), label, cx, cy, r, rot, fill)
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    return img, mask


def _draw(draw: ImageDraw.ImageDraw, label: str, cx: float, cy: float, r: float, rot: float, fill) -> None:
    if label == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif label == "square":
        draw.polygon(_polygon(cx, cy, r, 4, rot), fill=fill)
    elif label == "triangle":
        draw.polygon(_polygon(cx, cy, r, 3, rot), fill=fill)
    elif label == "star":
        draw.polygon(_polygon(cx, cy, r, 5, rot, inner=r * 0.42), fill=fill)
    elif label == "cross":
        t = r * 0.32
        for a in (rot, rot + math.pi / 2):
            dx, dy = math.cos(a), math.sin(a)
            px, py = -dy, dx
            draw.polygon([(cx - r * dx - t * px, cy - r * dy - t * py), (cx + r * dx - t * px, cy + r * dy - t * py),
                          (cx + r * dx + t * px, cy + r * dy + t * py), (cx - r * dx + t * px, cy - r * dy + t * py)],
                         fill=fill)
    elif label == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=fill, width=max(2, int(r * 0.3)))
    else:
        raise ValueError(label)


def random_size(rng: random.Random, short_range: Tuple[int, int] = (64, 240)) -> Tuple[int, int]:
    short = rng.randint(*short_range)
    aspect = math.exp(rng.uniform(math.log(1 / 2.5), math.log(2.5)))
    w, h = (int(short * aspect), short) if aspect >= 1 else (short, int(short / aspect))
    return max(w, 32), max(h, 32)


def samples(count_per_class: int, seed: int) -> Iterable[Tuple[Image.Image, int]]:
    rng = random.Random(seed)
    for i in range(count_per_class):
        for label_idx, label in enumerate(CLASSES):
            yield draw_shape(label, rng, random_size(rng)), label_idx


def generate(root, count_per_class: int, seed: int) -> pathlib.Path:
    """Write an ImageFolder tree `root/<class>/<n>.png`."""
    root = pathlib.Path(root)
    for label in CLASSES:
        (root / label).mkdir(parents=True, exist_ok=True)
    for n, (img, label_idx) in enumerate(samples(count_per_class, seed)):
        img.save(root / CLASSES[label_idx] / f"{n:05d}.png")
    return root


def generate_segmentation(root, count: int, seed: int) -> pathlib.Path:
    """Write a segmentation set: `root/images/<n>.png` and `root/masks/<n>.png` (same name; mask
    values 0 = background, i + 1 = CLASSES[i]), one shape per scene, classes in turn."""
    root = pathlib.Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for n in range(count):
        img, mask = draw_scene(CLASSES[n % len(CLASSES)], rng, random_size(rng))
        img.save(root / "images" / f"{n:05d}.png")
        mask.save(root / "masks" / f"{n:05d}.png")
    return root


class ShapesStream:
    """A map-style dataset that draws a fresh scene for every index and epoch.

    Training on an endless supply of scenes (instead of a fixed folder) keeps a small network from
    memorising backgrounds; `set_epoch` changes the draws. Smaller frames than the folders use
    keep drawing cheap; the eval transform resizes everything to the model's input anyway.
    """

    def __init__(self, length: int, transform, seed: int = 0, short_range: Tuple[int, int] = (64, 128)):
        self.length = length
        self.transform = transform
        self.seed = seed
        self.epoch = 0
        self.short_range = short_range

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        rng = random.Random((self.seed * 1_000_003 + self.epoch) * 10_000_019 + index)
        label_idx = rng.randrange(len(CLASSES))
        img = draw_shape(CLASSES[label_idx], rng, random_size(rng, self.short_range))
        return self.transform(img), label_idx
