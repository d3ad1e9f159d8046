"""`edgepack predict`: run image files through a `.ptl` (lite interpreter) or `.pte` (ExecuTorch).

Same runtime as the phone, same bytes in (a uint8 `[H, W, 3]` frame), so what this prints is what
the app will show. A `.pte` accepts frames up to its `input.max_side` (its memory is planned for
that size); larger photos are first scaled down to fit, with Pillow's antialiased bicubic filter,
as an app would scale a camera photo, and the result says so.
"""
from __future__ import annotations

import pathlib
from typing import List, Optional

import torch

from .errors import EdgepackError
from .files import check_input_file
from .images import DEFAULT_MAX_PIXELS, read_image
from .inspect import open_artifact
from .integrity import verify_ptl
from .manifest import ManifestError, check_manifest, check_output, is_embedding, is_segmentation
from .preprocess import MAX_SIDE, MIN_SIDE, ImagePreprocess, PreprocessConfig, check_frame_size


def open_model(path) -> tuple:
    """(format, manifest or None, callable module) of a `.ptl` or `.pte`, by its content."""
    from .formats import format_of_file

    path = pathlib.Path(path)
    if format_of_file(path) == "pte":
        from .formats import pte

        module = pte.PteModule(path, verify=True)  # digests checked before the forward method loads
        return "pte", pte.parse_manifest(module.manifest_text(), path, module.signature()), module
    manifest = open_artifact(path)
    if manifest is not None:
        check_manifest(manifest, path, "ptl")
    verify_ptl(path, manifest)  # before the lite interpreter sees a damaged file
    from .validate import load_lite

    try:
        module = load_lite(path)
    except Exception as exc:  # noqa: BLE001 - RuntimeError, UnicodeDecodeError, ...: a damaged file is an input problem
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise EdgepackError(f"{path}: the lite interpreter cannot load it ({reason})") from None
    return "ptl", manifest, module


def fit_to_side(image: torch.Tensor, max_side: int) -> torch.Tensor:
    """Scale a uint8 [H, W, C] frame down so its longer side is `max_side` (Pillow, bicubic)."""
    import numpy as np
    from PIL import Image

    h, w = int(image.shape[0]), int(image.shape[1])
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    pil = Image.fromarray(image.numpy()[:, :, :3])
    return torch.from_numpy(np.asarray(pil.resize(size, Image.BICUBIC)).copy())


class Predictor:
    def __init__(self, path):
        self.path = pathlib.Path(path)
        check_input_file(self.path, "model")
        self.format, self.manifest, self.module = open_model(self.path)
        if self.manifest is None:
            raise EdgepackError(f"{path}: has no edgepack manifest; build it with 'edgepack build'")
        self.labels: Optional[List[str]] = self.manifest.get("labels")
        self.output = self.manifest.get("output", {})
        self.image_input = self.manifest.get("input", {}).get("kind") == "image"
        self.embedding = is_embedding(self.manifest)
        self.segmentation = is_segmentation(self.manifest)
        self.preprocess = None
        self.checked = False  # the model's output compared with the manifest (on the first run)
        if not self.image_input:
            # A float-input file leaves preprocessing to the caller; do it here as the manifest says.
            pre = self.manifest.get("preprocess")
            if not isinstance(pre, dict):
                raise EdgepackError(f"{path}: float-input file without a 'preprocess' section in its manifest")
            cfg = PreprocessConfig.from_data_config(pre)
            self.preprocess = ImagePreprocess(cfg).eval()

    def run(self, image: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            if self.preprocess is not None:
                out = self.module(self.preprocess(image))
            else:
                out = self.module(image)
        if self.segmentation:
            check_output(out, self.manifest, self.path, frame=image)  # every mask: its size is the frame's
            self.checked = True
            if out.is_floating_point() and not bool(torch.isfinite(out).all()):
                raise EdgepackError("the model's output is not finite (NaN or inf)")
            return out
        if not self.checked:
            check_output(out, self.manifest, self.path)
            self.checked = True
        out = out.float().reshape(-1)
        if not bool(torch.isfinite(out).all()):
            raise EdgepackError("the model's output is not finite (NaN or inf)")
        if self.output.get("kind") == "logits":
            out = torch.sigmoid(out) if self.manifest.get("task") == "multilabel" else torch.softmax(out, 0)
        return out

    def label(self, index: int) -> str:
        if self.labels and index < len(self.labels):
            return self.labels[index]
        return f"class {index}"

    def max_side(self) -> Optional[int]:
        """Largest frame side the file takes, for a .pte (memory planned for it), else None."""
        side = (self.manifest.get("input") or {}).get("max_side") if self.format == "pte" else None
        return side if isinstance(side, int) and side > 0 else None

    def frame_mask(self, out: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """The class mask at the frame's size: the file's own mask, or the argmax of its per-class
        map mapped onto the frame as the manifest's resize policy says (`masks.map_to_frame`)."""
        if self.output.get("kind") == "mask":
            return out
        from .masks import map_to_frame

        mask = (out[0] > 0.5).to(torch.uint8) if out.shape[0] == 1 else out.argmax(0).to(torch.uint8)
        pre = self.manifest.get("preprocess") or {}
        cfg = PreprocessConfig.from_data_config(pre) if pre.get("resize_policy") == "letterbox" else None
        return map_to_frame(mask, height, width, cfg)

    def segment_file(self, path, max_pixels: int = DEFAULT_MAX_PIXELS, mask_out=None, overlay_out=None) -> dict:
        """One image through a segmentation file: class shares, and the mask / overlay PNGs on request."""
        from .masks import class_fractions, label_summary, mask_image, overlay_image, resize_mask, save_png

        image = read_image(path, max_pixels, MIN_SIDE, MAX_SIDE)
        check_frame_size(path, image)
        h, w = int(image.shape[0]), int(image.shape[1])
        run_on = image
        limit = self.max_side()
        if limit is not None and max(h, w) > limit:
            run_on = fit_to_side(image, limit)
        out = self._run_checked(path, run_on)
        mask = resize_mask(self.frame_mask(out, int(run_on.shape[0]), int(run_on.shape[1])), h, w)
        k = int(self.output.get("num_classes") or (int(mask.max()) + 1))
        result = {"image": str(path), "size": [w, h],
                  **({"scaled_to": [int(run_on.shape[1]), int(run_on.shape[0])]} if run_on is not image else {}),
                  "output": self.output.get("kind"), "classes": label_summary(class_fractions(mask, k), self.labels)}
        if mask_out is not None:
            save_png(mask_image(mask, k), mask_out)
            result["mask_file"] = str(mask_out)
        if overlay_out is not None:
            save_png(overlay_image(image, mask, k), overlay_out)
            result["overlay_file"] = str(overlay_out)
        return result

    def _run_checked(self, path, image: torch.Tensor) -> torch.Tensor:
        first = not self.checked
        try:
            return self.run(image)
        except EdgepackError as exc:
            if isinstance(exc, ManifestError):
                raise
            raise EdgepackError(f"{path}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - RuntimeError, torch.jit.Error, ValueError from the runtimes
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
            if first:  # a checked image the model cannot take on its first run: file and manifest disagree
                kind = (self.manifest.get("input") or {}).get("kind")
                raise ManifestError(f"{self.path}: the model does not run on the input its manifest describes "
                                    f"(input.kind {kind!r}): {reason}; rebuild it with 'edgepack build'") from None
            raise EdgepackError(f"{path}: the model rejected the image ({reason})") from None

    def predict_file(self, path, top_k: int = 5, max_pixels: int = DEFAULT_MAX_PIXELS) -> dict:
        image = read_image(path, max_pixels, MIN_SIDE, MAX_SIDE)
        check_frame_size(path, image)
        original = [int(image.shape[1]), int(image.shape[0])]
        limit = self.max_side() if self.image_input else None
        if limit is not None and max(image.shape[0], image.shape[1]) > limit:
            image = fit_to_side(image, limit)
        probs = self._run_checked(path, image)
        head = {
            "image": str(path),
            "size": original,
            **({"scaled_to": [int(image.shape[1]), int(image.shape[0])]}
               if original != [int(image.shape[1]), int(image.shape[0])] else {}),
        }
        if self.embedding:  # probs is the L2-normalised vector
            return {**head, "dim": int(probs.numel()), "norm": round(float(probs.double().norm()), 6),
                    "vector": [round(float(v), 7) for v in probs]}
        k = min(top_k, probs.numel())
        values, indices = torch.topk(probs, k)
        return {
            **head,
            "top_k": [
                {"index": int(i), "label": self.label(int(i)), "probability": round(float(v), 6)}
                for v, i in zip(values, indices)
            ],
        }


def add_neighbours(results: List[dict], top_k: int = 5) -> None:
    """For embedding results (dicts with a "vector"), each image's nearest neighbours among the
    other images by cosine similarity, most similar first, as `neighbours`: [{image, cosine}]."""
    done = [r for r in results if "vector" in r]
    if len(done) < 2:
        return
    vectors = torch.nn.functional.normalize(torch.tensor([r["vector"] for r in done], dtype=torch.float64), dim=-1)
    sims = vectors @ vectors.T
    for i, res in enumerate(done):
        order = [j for j in torch.argsort(sims[i], descending=True, stable=True).tolist() if j != i][:top_k]
        res["neighbours"] = [{"image": done[j]["image"], "cosine": round(float(sims[i, j]), 6)} for j in order]
