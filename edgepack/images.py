"""Decoding image files into the uint8 `[H, W, 3]` tensors the bundled pipeline expects.

Pillow decodes; EXIF orientation is applied (phones store portrait photos rotated plus a tag);
grayscale, palette, CMYK, 16-bit and alpha images become 8-bit RGB the way timm's own loader
(`img.convert('RGB')`) does, except 16-bit data, which Pillow would clip, is scaled down.
"""
from __future__ import annotations

import struct
import warnings
from typing import Optional

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import EdgepackError
from .files import check_input_file

DEFAULT_MAX_PIXELS = 64_000_000  # ~8000x8000; above that, decoding alone needs GBs


def open_rgb(path, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: Optional[int] = None,
             max_side: Optional[int] = None) -> Image.Image:
    """Open, bound-check, orient and convert an image file to an 8-bit RGB PIL image.

    The pixel limit and the per-side limits are checked against the size in the file's header,
    before anything is decoded: a 20000x20000 PNG is refused in milliseconds, not after seconds and
    gigabytes of decoding. Only regular files are opened (a FIFO would block).
    """
    check_input_file(path, "image")
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
                    if (max_side is not None and max(w, h) > max_side) or (min_side is not None and min(w, h) < min_side):
                        raise EdgepackError(f"{path}: {w}x{h} image is outside the {min_side or 1}..{max_side or 'any'} "
                                            "px per side that the bundled preprocessing accepts")
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
    except PermissionError:
        raise EdgepackError(f"{path}: cannot read the image: permission denied") from None
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


def read_image(path, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: Optional[int] = None,
               max_side: Optional[int] = None) -> torch.Tensor:
    return to_tensor(open_rgb(path, max_pixels, min_side, max_side))
