"""The model's eval transform, rebuilt as a scripted module that runs inside the `.ptl`.

It reproduces `timm.data.create_transform(**resolve_data_config(...))` in eval mode — resize
(shorter side to `floor(size / crop_pct)`, or squash, or longest side for `border`), centre crop
(or pad), `ToTensor`, `Normalize` — on a uint8 `[H, W, C]` frame, so an app hands over camera
pixels and nothing else. It is scripted, not traced: tracing would bake the example's size and
the Python integer arithmetic of the resize into the graph.

Two details keep it close to timm's PIL pipeline:
- The frame is resized as uint8, where torch's antialiased kernels implement PIL's algorithm
  (two separable passes with fixed-point weights, rounding to uint8 after each), in the order
  Pillow runs the passes: about 0.1-0.2% of pixels end up one intensity level from PIL (torch's
  weights have fewer fixed-point bits), and no full-size float copy of the frame is ever made.
- torchvision's centre crop and timm's ResizeKeepRatio use Python's `round` (half to even); the
  helpers below do the same in integer arithmetic, so odd margins land on the same pixel.
"""
from __future__ import annotations

import enum
import math
from collections import abc
from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple

import torch
from torch import nn

from .errors import EdgepackError


class Interpolation(str, enum.Enum):
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    NEAREST = "nearest"


class CropMode(str, enum.Enum):
    CENTER = "center"
    SQUASH = "squash"
    BORDER = "border"


INTERPOLATIONS = tuple(m.value for m in Interpolation)
CROP_MODES = tuple(m.value for m in CropMode)
MIN_SIDE = 16
MAX_SIDE = 8192


# Accepted ranges of the normalisation and crop settings. mean/std are on the 0..1 pixel scale
# (timm's Normalize runs after ToTensor): a mean above 1 is a 0..255-scale value given by mistake,
# and a std far below one intensity level (1/255) turns the network's input into +-inf, i.e. a
# model whose output no longer depends on the image.
MEAN_RANGE = (0.0, 1.0)
STD_RANGE = (1e-3, 10.0)
CROP_PCT_RANGE = (0.05, 2.0)
SIZE_RANGE = (8, 2048)


@dataclass(frozen=True)
class PreprocessConfig:
    """The eval transform, as bundled and as recorded in the manifest."""

    input_size: Tuple[int, int]  # (H, W) the network sees
    interpolation: str = "bicubic"
    crop_pct: float = 0.875
    crop_mode: str = "center"
    mean: Tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: Tuple[float, float, float] = (0.229, 0.224, 0.225)

    def __post_init__(self):
        # Accept the enums (e.g. from a checkpoint's hyper-parameters) as their plain values.
        for name in ("interpolation", "crop_mode"):
            value = getattr(self, name)
            if isinstance(value, enum.Enum):
                object.__setattr__(self, name, value.value)
        # The same checks as `resolve_config`, for configs built directly.
        _choice(self.interpolation, INTERPOLATIONS, "interpolation")
        _choice(self.crop_mode, CROP_MODES, "crop mode")
        _number(self.crop_pct, CROP_PCT_RANGE, "crop_pct")
        _triple(self.mean, MEAN_RANGE, "mean")
        _triple(self.std, STD_RANGE, "std")
        parse_image_size(self.input_size, "image size")

    @property
    def scale_size(self) -> Tuple[int, int]:
        return (math.floor(self.input_size[0] / self.crop_pct), math.floor(self.input_size[1] / self.crop_pct))

    @classmethod
    def from_data_config(cls, cfg: dict, where: str = "data config") -> "PreprocessConfig":
        """From a timm-style data config (`input_size` is (C, H, W)); see `resolve_config`."""
        return resolve_config(cfg, where)

    def with_overrides(self, image_size: Optional[Sequence[int]] = None, interpolation: Optional[str] = None,
                       crop_pct: Optional[float] = None, crop_mode: Optional[str] = None,
                       mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None):
        changes = {}
        if image_size is not None:
            size = tuple(int(v) for v in image_size)
            changes["input_size"] = (size[0], size[0]) if len(size) == 1 else (size[0], size[1])
        if interpolation is not None:
            changes["interpolation"] = interpolation
        if crop_pct is not None:
            changes["crop_pct"] = float(crop_pct)
        if crop_mode is not None:
            changes["crop_mode"] = crop_mode
        if mean is not None:
            changes["mean"] = tuple(float(v) for v in mean)
        if std is not None:
            changes["std"] = tuple(float(v) for v in std)
        return replace(self, **changes)

    def to_timm_config(self) -> dict:
        """Arguments for `timm.data.create_transform` that mean the same thing."""
        return {
            "input_size": (3, self.input_size[0], self.input_size[1]),
            "interpolation": self.interpolation,
            "crop_pct": self.crop_pct,
            "crop_mode": self.crop_mode,
            "mean": self.mean,
            "std": self.std,
        }

    def to_manifest(self, channels_last: bool) -> dict:
        return {
            "input_size": [3, self.input_size[0], self.input_size[1]],
            "interpolation": self.interpolation,
            "crop_pct": self.crop_pct,
            "crop_mode": self.crop_mode,
            "mean": list(self.mean),
            "std": list(self.std),
            "antialias": self.interpolation != "nearest",
            "resize_rounding": "uint8",
            "channels_last": channels_last,
        }


def _show(value) -> str:
    """repr of a user-supplied value, kept to one short line."""
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value, bounds, name: str) -> float:
    if not _is_number(value):
        raise EdgepackError(f"{name}: {_show(value)} is not a number")
    value = float(value)
    if not math.isfinite(value):
        raise EdgepackError(f"{name}: {value} is not a finite number")
    lo, hi = bounds
    if not lo <= value <= hi:
        raise EdgepackError(f"{name}: {value:g} is out of range ({lo:g}..{hi:g})")
    return value


def _triple(value, bounds, name: str) -> Tuple[float, float, float]:
    if isinstance(value, (str, bytes)) or not isinstance(value, abc.Sequence) or len(value) != 3:
        raise EdgepackError(f"{name}: {_show(value)} is not 3 numbers (R, G, B)")
    if not all(_is_number(v) and math.isfinite(float(v)) for v in value):
        raise EdgepackError(f"{name}: {_show(list(value))} are not 3 finite numbers (R, G, B)")
    lo, hi = bounds
    bad = [float(v) for v in value if not lo <= float(v) <= hi]
    if bad:
        scale = " (values are on the 0..1 pixel scale)" if hi <= 1 else ""
        raise EdgepackError(f"{name}: {bad[0]:g} is out of range ({lo:g}..{hi:g}){scale}")
    return tuple(float(v) for v in value)  # type: ignore[return-value]


def _choice(value, choices, name: str) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if not isinstance(value, str) or value not in choices:
        raise EdgepackError(f"{name}: unsupported value {_show(value)} (choose from {', '.join(choices)})")
    return value


def _integral(value) -> bool:
    return _is_number(value) and math.isfinite(float(value)) and float(value) == int(value)


def parse_image_size(value, name: str) -> Tuple[int, int]:
    """N, [N], (H, W) or (C, H, W) -> (H, W), each side in SIZE_RANGE."""
    if _integral(value):
        value = (value, value)
    elif isinstance(value, abc.Sequence) and not isinstance(value, (str, bytes)) and len(value) == 1:
        value = (value[0], value[0])
    if isinstance(value, (str, bytes)) or not isinstance(value, abc.Sequence) or len(value) not in (2, 3) \
            or not all(_integral(v) for v in value):
        raise EdgepackError(f"{name}: {_show(value)} is not an image size (N, [H, W] or [3, H, W])")
    if len(value) == 3 and int(value[0]) != 3:
        raise EdgepackError(f"{name}: {_show(list(value))} has {int(value[0])} channels; the network input has 3")
    h, w = int(value[-2]), int(value[-1])
    lo, hi = SIZE_RANGE
    if not (lo <= h <= hi and lo <= w <= hi):
        raise EdgepackError(f"{name}: {h}x{w} is out of range ({lo}..{hi} per side)")
    return h, w


def resolve_config(data_config: dict, where: str = "data config", *, image_size=None, interpolation=None,
                   crop_pct=None, crop_mode=None, mean=None, std=None) -> PreprocessConfig:
    """The bundled eval transform: a timm-style data config with explicit overrides applied.

    Every value is checked before anything is built. An override (the CLI's --image-size, ...)
    replaces the data config's field, so a bad field can be fixed from the command line; errors
    name the option, or the field and `where` it came from ("the checkpoint's data config"),
    instead of silently substituting a default: a `crop_pct` of 0 is an error, not 0.875, and an
    interpolation that cannot be bundled (lanczos, random) is an error, not bicubic.
    """
    if not isinstance(data_config, dict):
        raise EdgepackError(f"{where}: not a mapping of data-config fields")

    def field(key, option, override, default, parse):
        if override is not None:
            return parse(override, option)
        value = data_config.get(key)
        try:
            return parse(default if value is None else value, f"{where}: {key}")
        except EdgepackError as exc:
            fix = (f"mobile runtimes have no {value} resize; pass --interpolation bicubic (the closest) to build anyway"
                   if key == "interpolation" and value == "lanczos" else f"override with {option}")
            raise EdgepackError(f"{exc}; {fix}") from None

    input_size = field("input_size", "--image-size", image_size, (3, 224, 224), parse_image_size)
    interp = field("interpolation", "--interpolation", interpolation, "bilinear",
                   lambda v, n: _choice(v, INTERPOLATIONS, n))
    pct = field("crop_pct", "--crop-pct", crop_pct, 0.875, lambda v, n: _number(v, CROP_PCT_RANGE, n))
    mode = field("crop_mode", "--crop-mode", crop_mode, "center", lambda v, n: _choice(v, CROP_MODES, n))
    m = field("mean", "--mean", mean, (0.485, 0.456, 0.406), lambda v, n: _triple(v, MEAN_RANGE, n))
    sd = field("std", "--std", std, (0.229, 0.224, 0.225), lambda v, n: _triple(v, STD_RANGE, n))
    return PreprocessConfig(input_size=input_size, interpolation=interp, crop_pct=pct, crop_mode=mode, mean=m, std=sd)


def check_frame_size(path, image: torch.Tensor) -> None:
    """One-line error for a decoded image the bundled preprocessing would refuse."""
    h, w = int(image.shape[0]), int(image.shape[1])
    if min(h, w) < MIN_SIDE or max(h, w) > MAX_SIDE:
        raise EdgepackError(f"{path}: {w}x{h} image is outside the {MIN_SIDE}..{MAX_SIDE} px per side "
                            "that the bundled preprocessing accepts")


def _round_half_even(x: float) -> int:
    """Python 3 `round(x)`; TorchScript's `round` rounds halves away from zero."""
    f = math.floor(x)
    d = x - f
    if d > 0.5:
        return int(f) + 1
    if d < 0.5:
        return int(f)
    return int(f) + int(f) % 2


def _half_even_div2(n: int) -> int:
    """`int(round(n / 2.0))` for an int n, as torchvision's center_crop computes offsets."""
    q = n // 2
    if n % 2 == 0:
        return q
    return q + (q % 2)


class ImagePreprocess(nn.Module):
    """uint8 `[H, W, 3|4]` frame -> normalised float `[1, 3, h, w]` batch for the network."""

    def __init__(self, cfg: PreprocessConfig, channels_last: bool = False,
                 min_side: int = MIN_SIDE, max_side: int = MAX_SIDE, uint8_resize: bool = True):
        super().__init__()
        # False: resize in float with no rounding, as a plain float pipeline would (used to
        # measure how much PIL's uint8 rounding matters; see scripts/measure_parity.py).
        self.uint8_resize = uint8_resize
        self.out_h, self.out_w = int(cfg.input_size[0]), int(cfg.input_size[1])
        self.scale_h, self.scale_w = cfg.scale_size
        self.crop_mode = cfg.crop_mode
        self.mode = "nearest-exact" if cfg.interpolation == "nearest" else cfg.interpolation
        self.channels_last = channels_last
        self.min_side = int(min_side)
        self.max_side = int(max_side)
        mean = torch.tensor(cfg.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(cfg.std, dtype=torch.float32).view(1, 3, 1, 1)
        # Normalise in 0..255 units: (x/255 - mean)/std == (x - 255*mean) * (1/(255*std)).
        self.register_buffer("mean255", mean * 255.0)
        self.register_buffer("inv_std255", 1.0 / (std * 255.0))
        # Padding colour: black for centre/squash (torchvision pads with 0), mean colour for
        # border (timm's CenterCropOrPad fill=round(255*mean)).
        fill = [float(round(255 * m)) for m in cfg.mean] if cfg.crop_mode == "border" else [0.0, 0.0, 0.0]
        self.register_buffer("fill", torch.tensor(fill, dtype=torch.float32).view(1, 3, 1, 1))

    def resized_size(self, h: int, w: int) -> List[int]:
        """Output size of the resize step for an `h` x `w` frame, exactly as timm computes it."""
        if self.crop_mode == "squash":
            return [self.scale_h, self.scale_w]
        if self.crop_mode == "center" and self.scale_h == self.scale_w:
            # torchvision Resize(int): shorter side to `scale`, longer side truncated.
            s = self.scale_h
            if w <= h:
                return [int(s * h / w), s]
            return [s, int(s * w / h)]
        # timm ResizeKeepRatio: longest=0 (center, non-square) or 1 (border).
        ratio_h = h / self.scale_h
        ratio_w = w / self.scale_w
        if self.crop_mode == "border":
            ratio = max(ratio_h, ratio_w)
        else:
            ratio = min(ratio_h, ratio_w)
        return [max(1, _round_half_even(h / ratio)), max(1, _round_half_even(w / ratio))]

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 3:
            raise RuntimeError("edgepack: expected a uint8 image tensor [H, W, 3] or [H, W, 4]")
        if image.dtype != torch.uint8:
            raise RuntimeError("edgepack: expected dtype uint8 for the image tensor")
        channels = image.size(2)
        if channels != 3 and channels != 4:
            raise RuntimeError("edgepack: image must have 3 (RGB) or 4 (RGBA) channels in the last dimension")
        h = image.size(0)
        w = image.size(1)
        if h < self.min_side or w < self.min_side or h > self.max_side or w > self.max_side:
            raise RuntimeError("edgepack: image side out of the supported range")

        # A [1, C, H, W] view of the frame, channels-last in memory: no copy yet.
        x = image.permute(2, 0, 1).unsqueeze(0)
        size = self.resized_size(h, w)
        if self.uint8_resize:
            # Resizing uint8 runs PIL's own algorithm (separable passes, fixed-point weights,
            # rounding to uint8 after each pass) in torch's kernels: within 1 level of PIL, and
            # ~10x faster than converting the whole frame to float first. RGBA is resized with
            # its alpha channel (channels are independent) because the dense 4-channel layout
            # takes torch's vectorised path; alpha is dropped afterwards.
            if size[0] != h or size[1] != w:
                x = self.resize(x, size)
            x = x.narrow(1, 0, 3).to(torch.float32)
        else:
            x = x.narrow(1, 0, 3)
            x = x.to(torch.float32)
            if size[0] != h or size[1] != w:
                x = self.resize(x, size)
        x = self.center_crop_or_pad(x)
        x = (x - self.mean255) * self.inv_std255
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def resize(self, x: torch.Tensor, size: List[int]) -> torch.Tensor:
        if self.mode == "nearest-exact":
            return torch._C._nn._upsample_nearest_exact2d(x, size, None)
        # Pillow resizes in two passes and rounds to uint8 in between, so the order of the passes
        # shows in the result (a third of the pixels differ by one level when it is swapped).
        # Pillow 13 runs the vertical pass first when the height shrinks by more than twice as
        # many pixels as the width (Resample.c, ImagingResampleInner); older releases always ran
        # the horizontal pass first. torch's 2-D kernel is horizontal-first.
        h = x.size(2)
        w = x.size(3)
        if h - size[0] > 0 and h - size[0] > (w - size[1]) * 2:
            if size[0] != h:
                x = self.resize_aa(x, [size[0], w])
            if size[1] != w:
                x = self.resize_aa(x, size)
            return x
        return self.resize_aa(x, size)

    def resize_aa(self, x: torch.Tensor, size: List[int]) -> torch.Tensor:
        # The aten ops are called directly: F.interpolate's scripted body references every mode,
        # lanczos included, which an unfrozen (--no-optimize) file would then need and torch 2.1's
        # lite runtime (= pytorch_android_lite 2.1.0) does not have. Results are identical.
        if self.mode == "bicubic":
            return torch._C._nn._upsample_bicubic2d_aa(x, size, False, None)
        return torch._C._nn._upsample_bilinear2d_aa(x, size, False, None)

    def center_crop_or_pad(self, x: torch.Tensor) -> torch.Tensor:
        h = x.size(2)
        w = x.size(3)
        th = self.out_h
        tw = self.out_w
        if th > h or tw > w:
            pad_top = (th - h) // 2 if th > h else 0
            pad_left = (tw - w) // 2 if tw > w else 0
            new_h = max(h, th)
            new_w = max(w, tw)
            canvas = self.fill.expand(1, 3, new_h, new_w).clone()
            canvas[:, :, pad_top:pad_top + h, pad_left:pad_left + w] = x
            x = canvas
            h = new_h
            w = new_w
        top = _half_even_div2(h - th)
        left = _half_even_div2(w - tw)
        return x[:, :, top:top + th, left:left + tw]
