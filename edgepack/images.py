"""Decoding image files into the uint8 `[H, W, 3]` tensors the bundled pipeline expects.

Pillow decodes; EXIF orientation is applied (phones store portrait photos rotated plus a tag);
grayscale, palette, CMYK, 16-bit and alpha images become 8-bit RGB the way timm's own loader
(`img.convert('RGB')`) does, except 16-bit data, which Pillow would clip, is scaled down.
"""
from __future__ import annotations

import struct
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import EdgepackError

DEFAULT_MAX_PIXELS = 64_000_000  # ~8000x8000; above that, decoding alone needs GBs


def open_rgb(path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open, bound-check, orient and convert an image file to an 8-bit RGB PIL image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            previous = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = max_pixels
            try:
                with Image.open(path) as img:
                    w, h = img.size
                    if w * h > max_pixels:
                        raise EdgepackError(f"{path}: {w}x{h} image exceeds the pixel limit {max_pixels} (--max-pixels)")
                    img = ImageOps.exif_transpose(img)
                    img.load()
                    return _to_rgb(img)
            finally:
                Image.MAX_IMAGE_PIXELS = previous
    except EdgepackError:
        raise
    except FileNotFoundError:
        raise EdgepackError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise EdgepackError(f"{path}: is a directory") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise EdgepackError(f"{path}: image exceeds the pixel limit {max_pixels} (--max-pixels)") from None
    except UnidentifiedImageError:
        raise EdgepackError(f"{path}: not a readable image (unknown or empty format)") from None
    except (OSError, SyntaxError, ValueError, TypeError, struct.error, MemoryError, EOFError) as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise EdgepackError(f"{path}: broken image ({reason})") from None


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img).astype(np.int64)
        if img.mode == "I" and arr.max(initial=0) <= 255:
            arr8 = arr.clip(0, 255).astype(np.uint8)
        else:
            arr8 = (arr.clip(0, 65535) >> 8).astype(np.uint8)
        return Image.fromarray(arr8, mode="L").convert("RGB")
    if img.mode == "F":
        arr = np.asarray(img)
        arr8 = (np.nan_to_num(arr).clip(0, 1) * 255).round().astype(np.uint8) if arr.max(initial=0) <= 1 else np.nan_to_num(arr).clip(0, 255).astype(np.uint8)
        return Image.fromarray(arr8, mode="L").convert("RGB")
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB image -> uint8 `[H, W, 3]` tensor (what the `.ptl` takes)."""
    return torch.from_numpy(np.array(img, dtype=np.uint8, copy=True))


def read_image(path, max_pixels: int = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    return to_tensor(open_rgb(path, max_pixels))
