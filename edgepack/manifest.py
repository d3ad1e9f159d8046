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


def rewrite_archive(path, manifest: dict) -> bytes:
    """The bytes of TorchScript archive `path` with its manifest replaced and debug info dropped.

    Used for the final file: the validated candidate is copied record by record (same bytecode,
    same tensors, so nothing to re-validate but the manifest), which lets the build free the
    optimised module before validation instead of keeping it to save again. The `*.debug_pkl`
    records (source ranges for error messages of the full-JIT code section, which the lite
    interpreter never reads) are dropped: they hold absolute paths of the Python sources the
    model was scripted from, user names included.
    """
    import io

    reader = torch._C.PyTorchFileReader(str(path))
    buffer = io.BytesIO()
    writer = torch._C.PyTorchFileWriter(buffer)
    if reader.has_record("version"):
        writer.set_min_version(int(reader.get_record("version").decode().strip()))
    for name in reader.get_all_records():
        if name in ("version", "byteorder", ".data/version", ".data/serialization_id") or name.endswith(".debug_pkl"):
            continue  # the writer adds its own version, byte order and serialization id
        data = mf_bytes(manifest) if name == f"extra/{MANIFEST_NAME}" else reader.get_record(name)
        writer.write_record(name, data, len(data))
    writer.write_end_of_file()
    return buffer.getvalue()


def mf_bytes(manifest: dict) -> bytes:
    return dumps(manifest).encode("utf-8")


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
