"""The `edgepack.json` manifest stored inside every `.ptl` (schema in DESIGN.md).

It is what the Android app reads (via `LiteModuleLoader.load(path, extraFiles, ...)`) to know
the input spec and labels, and what `edgepack inspect` shows. JSON is written with sorted keys
and no timestamps so the same build gives the same bytes.
"""
from __future__ import annotations

import json
import zipfile
from typing import Optional

import torch

from . import __version__

SCHEMA = 1
MANIFEST_NAME = "edgepack.json"


def dumps(manifest: dict) -> str:
    return json.dumps(manifest, sort_keys=True, indent=1, allow_nan=False)


def base_manifest(**sections) -> dict:
    manifest = {"schema": SCHEMA, "edgepack_version": __version__, "torch_version": torch.__version__}
    manifest.update(sections)
    return manifest


def image_input_spec(min_side: int, max_side: int) -> dict:
    return {"kind": "image", "dtype": "uint8", "layout": "HWC", "channels": [3, 4], "color": "RGB",
            "min_side": min_side, "max_side": max_side, "downscale_ok": True}


def tensor_input_spec(height: int, width: int) -> dict:
    return {"kind": "tensor", "dtype": "float32", "layout": "NCHW", "shape": [1, 3, height, width],
            "normalized": True}


def read_extra_file(path, name: str = MANIFEST_NAME) -> Optional[str]:
    """An extra file from a TorchScript/lite zip archive, or None when it has none."""
    with zipfile.ZipFile(path) as zf:
        for entry in zf.namelist():
            if entry.endswith(f"/extra/{name}"):
                return zf.read(entry).decode("utf-8")
    return None


def read_manifest(path) -> Optional[dict]:
    text = read_extra_file(path)
    return json.loads(text) if text else None
