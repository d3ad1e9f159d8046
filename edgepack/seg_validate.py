"""Validating a segmentation file: masks against masks.

A segmenter's file is judged on what an app uses, the class-index mask at the frame's
resolution: pixel agreement with the float eager model's mask (the same bundled preprocessing,
so only packaging is measured), per-class IoU between the two masks, and, when the `--val`
folder has ground-truth masks (`images/` + `masks/` with the same file names, class indices,
255 = unlabelled), the mIoU of both against the ground truth. A file that outputs the per-class
map (`--output-kind probabilities`) is judged on the argmax of that map, plus its largest
absolute error.
"""
from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from .errors import EdgepackError
from .files import check_input_file
from .segmenter import IGNORE_INDEX, confusion, iou_per_class, mean_iou
from .validate import IMAGE_SUFFIXES, list_images

MASK_FOLDERS = ("images", "masks")
# Minimum share of a file's mask pixels equal to the reference's, by default: the build's gate
# against the float model (edgepack.package) and `check`'s against this torch (edgepack.compat).
SEGMENTATION_MIN_PIXEL_AGREEMENT = {"float": 0.995, "int8": 0.95}


@dataclass(frozen=True)
class MaskSpec:
    """How to read a segmentation file's output: a mask, or a per-class map to take the argmax of."""

    num_classes: int  # mask values 0..num_classes-1 (2 for a one-channel binary model)
    output: str = "mask"  # or "probabilities"
    binary: bool = False
    pre_cfg: Optional[object] = None  # the bundled PreprocessConfig: maps a per-class map onto the frame

    def frame_mask(self, output: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The mask at a `height` x `width` frame's size (a per-class map's argmax mapped onto it)."""
        if self.output == "mask":
            return output
        from .masks import map_to_frame

        return map_to_frame(self.mask(output), height, width, self.pre_cfg)

    def mask(self, output: torch.Tensor) -> torch.Tensor:
        if self.output == "mask":
            return output
        if self.binary:
            return (output[0] > 0.5).to(torch.uint8)
        return output.argmax(0).to(torch.uint8)


def segmentation_items(directory, limit: Optional[int] = None) -> List[tuple]:
    """(image path, mask path or None) for `--val`: `images/` + `masks/` pairs matched by file
    stem when the folder has that layout, else every image with no ground truth."""
    root = pathlib.Path(directory)
    images, masks = (root / name for name in MASK_FOLDERS)
    if not (images.is_dir() and masks.is_dir()):
        return [(path, None) for path, _ in list_images(directory, limit)]
    items = []
    by_stem = {p.stem: p for p in masks.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES}
    for path, _ in list_images(images, limit):
        items.append((path, by_stem.get(path.stem)))
    missing = [p for p, m in items if m is None]
    if missing:
        raise EdgepackError(f"{directory}: {missing[0].name} in images/ has no mask of the same name in masks/ "
                            f"({len(missing)} of {len(items)} images lack one)")
    return items


def read_mask(path, size: Sequence[int]) -> torch.Tensor:
    """A ground-truth mask file: one channel of class indices (8-bit grey or palette PNG), the
    image's size `(H, W)`; 255 marks unlabelled pixels."""
    check_input_file(path, "mask")
    try:
        with Image.open(path) as img:
            if img.mode not in ("L", "P"):
                raise EdgepackError(f"{path}: mask mode {img.mode}; a mask must be one channel of class indices "
                                    "(8-bit grey or palette PNG)")
            mask = torch.from_numpy(np.array(img, dtype=np.uint8, copy=True))
    except EdgepackError:
        raise
    except Exception as exc:  # Pillow raises many types for broken files
        raise EdgepackError(f"{path}: not a readable mask ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})") from None
    if list(mask.shape) != [int(size[0]), int(size[1])]:
        raise EdgepackError(f"{path}: mask is {mask.shape[1]}x{mask.shape[0]}, its image {size[1]}x{size[0]}")
    return mask


def check_mask_classes(mask: torch.Tensor, num_classes: int, path) -> None:
    labelled = mask[mask != IGNORE_INDEX]
    if labelled.numel() and int(labelled.max()) >= num_classes:
        raise EdgepackError(f"{path}: mask value {int(labelled.max())} is not a class of this {num_classes}-class model "
                            f"(values 0..{num_classes - 1}, {IGNORE_INDEX} = unlabelled)")


def check_binary_truths(truths: Sequence[Optional[torch.Tensor]], num_classes: int, directory) -> None:
    """0/255 is a common way to store binary masks; read as class 0 + unlabelled, every foreground
    pixel would be left out of the mIoU. A two-class set whose masks hold 255 but never 1 is refused."""
    given = [t for t in truths if t is not None]
    if num_classes == 2 and any(bool((t == IGNORE_INDEX).any()) for t in given) \
            and not any(bool((t == 1).any()) for t in given):
        raise EdgepackError(f"{directory}: the masks hold 0 and {IGNORE_INDEX} only, and {IGNORE_INDEX} means unlabelled: "
                            "the foreground would not be measured; store foreground pixels as 1")


@dataclass
class MaskComparison:
    """File masks against reference masks, input by input."""

    num_inputs: int
    agreement: List[float]  # per input: share of pixels with the same class
    pixels: List[int]
    confusions: List[torch.Tensor]  # per input [K, K], rows reference, columns file
    valid: List[bool]  # False: the file's output is not finite or has values outside 0..K-1
    max_abs_err: Optional[float] = None  # per-class maps only
    truth_reference: Optional[dict] = None  # ground_truth_miou of the reference's masks (set by the build)
    truth_file: Optional[dict] = None  # ... and of the file's

    def pooled_agreement(self, keep: Optional[Sequence[bool]] = None) -> float:
        idx = [i for i in range(self.num_inputs) if keep is None or keep[i]] or list(range(self.num_inputs))
        if not all(self.valid[i] for i in idx):
            return 0.0
        same = sum(self.agreement[i] * self.pixels[i] for i in idx)
        return same / max(1, sum(self.pixels[i] for i in idx))

    def iou(self) -> List[Optional[float]]:
        return iou_per_class(sum(self.confusions))

    def to_dict(self) -> dict:
        ious = self.iou()
        out = {"num_inputs": self.num_inputs, "pixel_agreement": round(self.pooled_agreement(), 6),
               "min_pixel_agreement": round(min(self.agreement), 6) if all(self.valid) else 0.0,
               "miou_vs_reference": _r(mean_iou(sum(self.confusions))),
               "iou_vs_reference": [None if v is None else _r(v) for v in ious]}
        if self.max_abs_err is not None:
            out["max_abs_err"] = self.max_abs_err if math.isfinite(self.max_abs_err) else None
        return out


def _r(x: float) -> Optional[float]:
    return round(x, 6) if math.isfinite(x) else None


def compare_masks(reference: Sequence[torch.Tensor], candidate: Sequence[torch.Tensor], spec: MaskSpec) -> MaskComparison:
    agreement, pixels, confusions, valid, errors = [], [], [], [], []
    k = spec.num_classes
    for ref, out in zip(reference, candidate):
        if list(ref.shape) != list(out.shape):
            raise EdgepackError(f"output shape {list(out.shape)} differs from the model's {list(ref.shape)}")
        if spec.output == "probabilities":
            finite = bool(torch.isfinite(out).all())
            errors.append(float((ref.float() - out.float()).abs().max()) if finite else math.inf)
        else:
            finite = True
        ref_mask, out_mask = spec.mask(ref), spec.mask(out)
        ok = finite and (out_mask.numel() == 0 or int(out_mask.max()) < k)
        valid.append(ok)
        pixels.append(int(ref_mask.numel()))
        if not ok:
            agreement.append(0.0)
            confusions.append(torch.zeros(k, k, dtype=torch.int64))
            continue
        agreement.append(float((ref_mask == out_mask).double().mean()))
        confusions.append(confusion(out_mask, ref_mask, k))
    return MaskComparison(len(agreement), agreement, pixels, confusions, valid, max(errors) if errors else None)


def ground_truth_miou(outputs: Sequence[torch.Tensor], truths: Sequence[Optional[torch.Tensor]],
                      spec: MaskSpec) -> Optional[dict]:
    """mIoU (and per-class IoU) of the outputs' masks against the ground truth, or None without any."""
    pairs = [(spec.frame_mask(o, int(t.shape[0]), int(t.shape[1])), t) for o, t in zip(outputs, truths) if t is not None]
    if not pairs:
        return None
    total = sum(confusion(m.clamp(max=spec.num_classes - 1), t, spec.num_classes) for m, t in pairs)
    return {"miou": mean_iou(total), "iou": iou_per_class(total), "images": len(pairs)}
