"""Segmentation masks as files a person can look at: the mask PNG and a colour overlay.

The mask PNG is a palette image whose pixel values are the class indices (so it reads back as a
ground-truth mask for `--val`, and any viewer shows it in colour); the overlay blends the class
colours over the photo, background (class 0) left clear.
"""
from __future__ import annotations

import math
import os
import pathlib
from typing import List, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from .errors import EdgepackError
from .files import check_output_target

# The Android demo's palette (android_demo/core/.../SegmentationPalette.java), so a mask looks the
# same in `edgepack predict --overlay-out` and in the app: class 0 (background) is not tinted,
# classes 1..20 take 20 distinct colours, further ones hues spaced by the golden angle.
DISTINCT = [0xE6194B, 0x3CB44B, 0x4363D8, 0xFFE119, 0xF58231, 0x911EB4, 0x42D4F4, 0xF032E6, 0xBFEF45, 0xFABED4,
            0x469990, 0xDCBEFF, 0x9A6324, 0xFFFAC8, 0x800000, 0xAAFFC3, 0x808000, 0xFFD8B1, 0x000075, 0xA9A9A9]
GOLDEN_ANGLE_DEGREES = 137.50776405003785
BACKGROUND_RGB = (0, 0, 0)  # in the mask PNG; the overlay leaves background pixels as they are
OVERLAY_ALPHA = 0x8C / 255  # the app's default alpha


def _java_round(x: float) -> int:
    return int(math.floor(x + 0.5))


def _golden_angle_colour(slot: int) -> tuple:
    """Hue slot * golden angle, saturation 0.75, value 0.9 (HSV), as the app computes it."""
    h, s, v = (slot * GOLDEN_ANGLE_DEGREES) % 360.0 / 60.0, 0.75, 0.9
    c = v * s
    x = c * (1 - abs(h % 2 - 1))
    r, g, b = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][int(math.floor(h)) % 6]
    m = v - c
    return tuple(_java_round(max(0.0, min(1.0, u + m)) * 255) for u in (r, g, b))


def palette(num_classes: int) -> List[tuple]:
    """RGB colour of each class: BACKGROUND_RGB for 0, then the app's colours."""
    colours = [BACKGROUND_RGB]
    for slot in range(num_classes - 1):
        if slot < len(DISTINCT):
            colours.append(((DISTINCT[slot] >> 16) & 255, (DISTINCT[slot] >> 8) & 255, DISTINCT[slot] & 255))
        else:
            colours.append(_golden_angle_colour(slot))
    return colours


def class_fractions(mask: torch.Tensor, num_classes: int) -> List[float]:
    counts = torch.bincount(mask.reshape(-1).long(), minlength=num_classes)[:num_classes].double()
    return (counts / max(1, mask.numel())).tolist()


def resize_mask(mask: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Nearest-neighbour resize of a class mask (classes must not blend)."""
    if list(mask.shape) == [height, width]:
        return mask
    img = Image.fromarray(mask.numpy().astype(np.uint8), mode="L").resize((width, height), Image.NEAREST)
    return torch.from_numpy(np.asarray(img).copy())


def map_to_frame(mask: torch.Tensor, height: int, width: int, pre_cfg=None) -> torch.Tensor:
    """A class mask computed at the network's (output) resolution, mapped onto a `height` x
    `width` frame with nearest neighbour: the whole map for squash; for letterbox (`pre_cfg`'s
    crop mode "border") only the picture box, found in network-input pixels exactly as the bundled
    preprocessing places the frame, then scaled to map pixels (at least one map row/column, as the
    Android app keeps it, for frames thinner than a map pixel)."""
    if pre_cfg is not None and pre_cfg.crop_mode == "border":
        from .preprocess import ImagePreprocess

        net_h, net_w = pre_cfg.input_size
        rh, rw = ImagePreprocess(pre_cfg).resized_size(height, width)
        sy, sx = mask.shape[0] / net_h, mask.shape[1] / net_w
        top, left = (net_h - rh) // 2, (net_w - rw) // 2
        y0, x0 = min(round(top * sy), mask.shape[0] - 1), min(round(left * sx), mask.shape[1] - 1)
        mask = mask[y0:max(y0 + 1, round((top + rh) * sy)), x0:max(x0 + 1, round((left + rw) * sx))]
    return resize_mask(mask, height, width)


def mask_image(mask: torch.Tensor, num_classes: int) -> Image.Image:
    img = Image.fromarray(mask.numpy().astype(np.uint8), mode="P")
    flat = [c for rgb in palette(max(num_classes, 1)) for c in rgb]
    img.putpalette(flat + [0] * (768 - len(flat)))
    return img


def overlay_image(frame: torch.Tensor, mask: torch.Tensor, num_classes: int, alpha: float = OVERLAY_ALPHA) -> Image.Image:
    """The photo with each non-background class tinted in its colour."""
    rgb = frame[:, :, :3].numpy().astype(np.float32)
    colours = np.array(palette(num_classes), dtype=np.float32)
    m = mask.numpy().astype(np.int64)
    tint = colours[np.clip(m, 0, num_classes - 1)]
    blend = np.where((m > 0)[:, :, None], rgb * (1 - alpha) + tint * alpha, rgb)
    return Image.fromarray(np.clip(blend + 0.5, 0, 255).astype(np.uint8), mode="RGB")


def save_png(img: Image.Image, path) -> None:
    """Write a PNG atomically (a temporary file renamed into place): never a half-written file,
    and never onto something that is not a regular file."""
    path = pathlib.Path(path)
    if path.is_dir():
        raise EdgepackError(f"{path}: is a directory; give a .png file name")
    check_output_target(path)
    parent = path.parent if str(path.parent) else pathlib.Path(".")
    if not parent.is_dir():
        raise EdgepackError(f"{parent}: output folder does not exist")
    tmp = parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        img.save(tmp, format="PNG")
        os.replace(tmp, path)
    except OSError as exc:
        raise EdgepackError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        tmp.unlink(missing_ok=True)


def output_path(target: Optional[str], image: str, suffix: str, many: bool) -> Optional[pathlib.Path]:
    """Where one image's mask/overlay goes: `target` itself for a single image, else
    `target/<image stem><suffix>.png` (target must then be a folder)."""
    if target is None:
        return None
    if not many and not pathlib.Path(target).is_dir():
        return pathlib.Path(target)
    if not pathlib.Path(target).is_dir():
        raise EdgepackError(f"{target}: with several images, give an existing folder (one PNG per image)")
    return pathlib.Path(target) / f"{pathlib.Path(image).stem}{suffix}.png"


def label_summary(fractions: Sequence[float], labels: Optional[Sequence[str]]) -> List[dict]:
    rows = [{"index": i, "label": labels[i] if labels and i < len(labels) else f"class {i}", "fraction": round(f, 6)}
            for i, f in enumerate(fractions) if f > 0]
    return sorted(rows, key=lambda r: -r["fraction"])
