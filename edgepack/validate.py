"""Checking a written `.ptl` against the model it came from.

The file is reloaded from disk with the lite interpreter (the runtime inside the Android/iOS
libraries) and fed the same inputs as the eager reference. Inputs are a fixed, seeded set of
synthetic frames of several sizes and aspect ratios (smooth fields, edges, noise, an RGBA frame),
plus the user's images from `--val DIR` when given.
"""
from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import torch

from .errors import EdgepackError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
# (H, W) of the synthetic validation frames: square, landscape, portrait, 1:4, 4:1 and odd.
SYNTHETIC_SIZES = [(224, 224), (240, 320), (321, 241), (96, 384), (384, 96), (97, 131)]


def synthetic_images(count: int = 8, seed: int = 0) -> List[torch.Tensor]:
    """Deterministic uint8 `[H, W, 3|4]` frames that look more like photos than noise does."""
    gen = torch.Generator().manual_seed(seed)
    images = []
    for i in range(count):
        h, w = SYNTHETIC_SIZES[i % len(SYNTHETIC_SIZES)]
        kind = i % 4
        if kind == 0:  # smooth colour field: low-res noise upsampled
            low = torch.rand(1, 3, max(2, h // 32), max(2, w // 32), generator=gen)
            img = torch.nn.functional.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)
        elif kind == 1:  # gradient with hard-edged rectangles
            yy = torch.linspace(0, 1, h).view(h, 1).expand(h, w)
            xx = torch.linspace(0, 1, w).view(1, w).expand(h, w)
            img = torch.stack([yy, xx, 1 - yy], 0).unsqueeze(0).clone()
            for _ in range(4):
                y0, x0 = int(torch.randint(0, h // 2, (1,), generator=gen)), int(torch.randint(0, w // 2, (1,), generator=gen))
                img[:, :, y0:y0 + h // 3, x0:x0 + w // 3] = torch.rand(3, 1, 1, generator=gen)
        elif kind == 2:  # noise
            img = torch.rand(1, 3, h, w, generator=gen)
        else:  # stripes (text-like high frequency)
            xx = torch.arange(w).view(1, 1, 1, w).float()
            img = (torch.sin(xx / (1.5 + i)) * 0.5 + 0.5).expand(1, 3, h, w) * torch.rand(1, 3, 1, 1, generator=gen)
        img = (img.clamp(0, 1) * 255).round().to(torch.uint8)[0].permute(1, 2, 0).contiguous()
        if i % 5 == 4:  # what Android's copyPixelsToBuffer hands over: RGBA
            alpha = torch.full((h, w, 1), 255, dtype=torch.uint8)
            img = torch.cat([img, alpha], dim=2)
        images.append(img)
    return images


def list_images(directory, limit: Optional[int] = None) -> List[tuple]:
    """(path, class name or None) for images under `directory` (ImageFolder layout or flat)."""
    root = pathlib.Path(directory)
    if not root.is_dir():
        raise EdgepackError(f"{directory}: not a directory of images")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise EdgepackError(f"{directory}: contains no images ({', '.join(IMAGE_SUFFIXES)})")
    # Like torchvision's ImageFolder, the top-level folder is the class (nested folders included).
    items = [(p, p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else None) for p in files]
    if limit is not None and len(items) > limit:
        # Spread the sample over classes: take every k-th file of the sorted list.
        step = len(items) / limit
        items = [items[int(i * step)] for i in range(limit)]
    return items


@dataclass
class Comparison:
    num_inputs: int
    max_abs_err: float
    max_rel_err: float
    min_cosine: float
    top1_agreement: float
    per_input_rel: List[float] = field(default_factory=list)
    per_input_cos: List[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "num_inputs": self.num_inputs,
            "max_abs_err": _round(self.max_abs_err),
            "max_rel_err": _round(self.max_rel_err),
            "min_cosine": _round(self.min_cosine, 7),
            "top1_agreement": _round(self.top1_agreement, 5),
        }


def _round(x: float, digits: int = 4) -> float:
    """Significant-digit rounding so manifests stay readable and byte-stable."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{digits}g}")


def compare(reference: Sequence[torch.Tensor], candidate: Sequence[torch.Tensor]) -> Comparison:
    """Error figures of `candidate` outputs against `reference` outputs, input by input."""
    abs_errs, rel_errs, cosines, agree = [], [], [], []
    for ref, out in zip(reference, candidate):
        ref = ref.detach().float().reshape(-1, ref.shape[-1])
        out = out.detach().float().reshape(-1, ref.shape[-1])
        if ref.shape != out.shape:
            raise EdgepackError(f"output shape {list(out.shape)} differs from the model's {list(ref.shape)}")
        if not torch.isfinite(out).all():
            abs_errs.append(math.inf)
            rel_errs.append(math.inf)
            cosines.append(-1.0)
            agree.append(0.0)
            continue
        diff = (ref - out).abs().max().item()
        abs_errs.append(diff)
        rel_errs.append(diff / max(ref.abs().max().item(), 1e-12))
        cosines.append(torch.nn.functional.cosine_similarity(ref.double(), out.double(), dim=1).min().item())
        agree.append((ref.argmax(-1) == out.argmax(-1)).float().mean().item())
    return Comparison(
        num_inputs=len(abs_errs),
        max_abs_err=max(abs_errs),
        max_rel_err=max(rel_errs),
        min_cosine=min(cosines),
        top1_agreement=sum(agree) / len(agree),
        per_input_rel=rel_errs,
        per_input_cos=cosines,
    )


def _rows(outputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Every output's vectors as rows of one float64 matrix (an image file's [D] outputs, or a
    float-input file's [N, D])."""
    return torch.cat([o.detach().double().reshape(-1, o.shape[-1]) for o in outputs], 0)


def nearest_neighbours(vectors: torch.Tensor) -> torch.Tensor:
    """For each row, the index of the most cosine-similar other row (ties: the lowest index)."""
    unit = torch.nn.functional.normalize(vectors.double(), dim=-1)
    sims = unit @ unit.T
    sims.fill_diagonal_(-math.inf)
    return sims.argmax(dim=1)


def retrieval_agreement(reference: Sequence[torch.Tensor], candidate: Sequence[torch.Tensor]) -> float:
    """Top-1 retrieval agreement: the share of inputs whose nearest neighbour among the other
    inputs (cosine similarity) is the same by `candidate`'s vectors as by `reference`'s. 0 for an
    input whose candidate vector is not finite; 1.0 when there are fewer than two inputs."""
    ref, out = _rows(reference), _rows(candidate)
    if ref.shape[0] < 2:
        return 1.0
    finite = torch.isfinite(out).all(dim=1)
    same = (nearest_neighbours(ref) == nearest_neighbours(torch.nan_to_num(out))) & finite
    return same.double().mean().item()


def load_lite(path) -> Callable:
    """Load a `.ptl` with the lite interpreter, the same code the mobile libraries run."""
    from torch.jit.mobile import _load_for_lite_interpreter

    return _load_for_lite_interpreter(str(path))


def run_all(module: Callable, inputs: Sequence[torch.Tensor]) -> List[torch.Tensor]:
    with torch.no_grad():
        return [module(x) for x in inputs]


def accuracy(outputs: Sequence[torch.Tensor], targets: Sequence[Optional[int]]) -> Optional[float]:
    pairs = [(o, t) for o, t in zip(outputs, targets) if t is not None]
    if not pairs:
        return None
    hits = sum(int(o.reshape(-1).argmax().item() == t) for o, t in pairs)
    return hits / len(pairs)

