"""The `edgepack.json` manifest stored inside every `.ptl` (schema in DESIGN.md).

It is what the Android app reads (via `LiteModuleLoader.load(path, extraFiles, ...)`) to know
the input spec and labels, and what `edgepack inspect` shows. JSON is written with sorted keys
and no timestamps so the same build gives the same bytes.
"""
from __future__ import annotations

import json
import os
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


def write_archive(src, dest, manifest: dict) -> None:
    """Copy TorchScript archive `src` to `dest` with its manifest replaced and debug info dropped.

    Used for the final file: the validated candidate is copied record by record (same bytecode,
    same tensors, so nothing to re-validate but the manifest), which lets the build free the
    optimised module before validation instead of keeping it to save again. The `*.debug_pkl`
    records (source ranges for error messages of the full-JIT code section, which the lite
    interpreter never reads) are dropped: they hold absolute paths of the Python sources the
    model was scripted from, user names included. The records are streamed, one at a time, so
    memory does not grow with the model; the archive's inner folder is always `archive/`, whatever
    the candidate's file was called, so equal builds give equal bytes.

    Raises OSError when `dest` cannot be written (a full disk, say); `dest` may then be partial.
    """
    # Serialised before the writer exists: an exception raised while torch's writer is alive
    # escapes again from its C++ destructor and aborts the process (see _Sink).
    manifest_bytes = mf_bytes(manifest)
    reader = torch._C.PyTorchFileReader(str(src))
    with open(dest, "wb") as f:
        sink = _Sink(f)
        writer = torch._C.PyTorchFileWriter(sink)
        version = _min_version(reader)
        if version is not None:
            writer.set_min_version(version)
        for name in _copied_records(reader):
            data = manifest_bytes if name == f"extra/{MANIFEST_NAME}" else reader.get_record(name)
            writer.write_record(name, data, len(data))
        writer.write_end_of_file()
        del writer
        sink.raise_error()
        f.flush()
        os.fsync(f.fileno())


WRITER_RECORDS = ("version", "byteorder", ".data/version", ".data/serialization_id")


def _min_version(reader) -> Optional[int]:
    return int(reader.get_record("version").decode().strip()) if reader.has_record("version") else None


def _copied_records(reader) -> list:
    """The records `write_archive` copies: the writer adds its own version, byte order and
    serialization id, and debug records are dropped."""
    return [name for name in reader.get_all_records()
            if name not in WRITER_RECORDS and not name.endswith(".debug_pkl")]


def archive_digests(src) -> dict:
    """The `integrity` section of the file `write_archive(src, ...)` writes: sha256 of every
    record it will hold but the manifest and the serialization id (see edgepack.integrity),
    computed from the candidate's records one at a time and from what torch's writer adds."""
    from . import integrity

    reader = torch._C.PyTorchFileReader(str(src))
    digests = {name: integrity.sha256_hex(reader.get_record(name)) for name in _copied_records(reader)
               if name != f"extra/{MANIFEST_NAME}"}
    for name, data in integrity.writer_records(_min_version(reader)).items():
        digests[name] = integrity.sha256_hex(data)
    return integrity.ptl_section(digests)


class _Sink:
    """A file for torch's archive writer that never raises into it.

    An exception from `write` inside PyTorchFileWriter escapes again from its C++ destructor and
    aborts the interpreter (seen with torch 2.12.1 writing to a full disk). So the first error is
    kept, later writes are dropped, and `raise_error` re-raises it once the writer is done.
    """

    def __init__(self, f):
        self.f = f
        self.error: Optional[OSError] = None

    def write(self, data) -> int:
        if self.error is None:
            try:
                self.f.write(data)
            except OSError as exc:
                self.error = exc
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.f.seek(offset, whence) if self.error is None else 0

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


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
