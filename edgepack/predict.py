"""`edgepack predict`: run image files through a `.ptl` with the lite interpreter.

Same runtime as the phone, same bytes in (a uint8 `[H, W, 3]` frame), so what this prints is what
the app will show.
"""
from __future__ import annotations

import pathlib
from typing import List, Optional

import torch

from .errors import EdgepackError
from .images import DEFAULT_MAX_PIXELS, read_image
from .inspect import open_artifact
from .preprocess import MAX_SIDE, MIN_SIDE, ImagePreprocess, PreprocessConfig, check_frame_size


class Predictor:
    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.manifest = open_artifact(self.path)
        if self.manifest is None:
            raise EdgepackError(f"{path}: has no edgepack.json manifest; build it with 'edgepack build'")
        from .validate import load_lite

        try:
            self.module = load_lite(self.path)
        except RuntimeError as exc:
            raise EdgepackError(f"{path}: the lite interpreter cannot load it ({str(exc).splitlines()[0][:160]})") from None
        self.labels: Optional[List[str]] = self.manifest.get("labels")
        self.output = self.manifest.get("output", {})
        self.image_input = self.manifest.get("input", {}).get("kind") == "image"
        self.preprocess = None
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
                out = self.module(self.preprocess(image))[0]
            else:
                out = self.module(image)
        out = out.float().reshape(-1)
        if self.output.get("kind") == "logits":
            out = torch.sigmoid(out) if self.manifest.get("task") == "multilabel" else torch.softmax(out, 0)
        return out

    def label(self, index: int) -> str:
        if self.labels and index < len(self.labels):
            return self.labels[index]
        return f"class {index}"

    def predict_file(self, path, top_k: int = 5, max_pixels: int = DEFAULT_MAX_PIXELS) -> dict:
        image = read_image(path, max_pixels, MIN_SIDE, MAX_SIDE)
        check_frame_size(path, image)
        try:
            probs = self.run(image)
        except RuntimeError as exc:
            raise EdgepackError(f"{path}: the model rejected the image ({str(exc).splitlines()[0][:160]})") from None
        k = min(top_k, probs.numel())
        values, indices = torch.topk(probs, k)
        return {
            "image": str(path),
            "size": [int(image.shape[1]), int(image.shape[0])],
            "top_k": [
                {"index": int(i), "label": self.label(int(i)), "probability": round(float(v), 6)}
                for v, i in zip(values, indices)
            ],
        }
