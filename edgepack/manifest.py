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
from .errors import EdgepackError

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


# --- reading a manifest: it is untrusted input ---------------------------------------------------
#
# A manifest comes out of a file anyone may have edited, and the commands act on it (labels to
# print, the input to feed, the preprocessing of a float-input file, the engine of a quantized
# one). `check_manifest` checks every field a command uses, its JSON type and its range, and the
# fields against each other, so a bad value is one error line (exit 2) and not a traceback or a
# silently wrong label; `check_output` compares the model's real output on its first run with
# what the manifest says (a manifest copied onto another model). Unknown extra keys are allowed
# (a newer edgepack of the same schema may add some).

TASKS = ("multiclass", "multilabel", "embedding", "segmentation")
OUTPUT_KINDS = {"probabilities": ("softmax", "sigmoid"), "logits": ("none",), "embedding": ("l2norm",),
                "mask": (None,)}
MASK_SHAPE = ["H", "W"]  # a segmentation mask has the input frame's size
UNIT_NORM_TOLERANCE = 1e-3  # |norm - 1| an embedding file's vectors may show (float32 rounding, int8)
ENGINES = ("qnnpack", "x86", "fbgemm", "onednn", "xnnpack")  # xnnpack: a quantized .pte
_SECTIONS = ("source", "preprocess", "quantization", "optimizer", "validation", "options", "memory", "executorch")


class ManifestError(EdgepackError):
    """The manifest inside a model file is malformed or does not describe the model (exit 2)."""


def _type_name(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}" if not isinstance(value, float) or value == value else "NaN"
    if isinstance(value, str):
        return f"the string {json.dumps(value[:40])}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    import math

    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


def check_manifest(manifest, path, fmt: Optional[str] = None) -> dict:
    """`manifest` (parsed JSON from the file `path` of format `fmt`, "ptl" or "pte"), checked.

    Returns it unchanged; raises ManifestError naming the first bad field otherwise.
    """
    def bad(message: str):
        raise ManifestError(f"{path}: invalid manifest: {message} (an edited or damaged file? "
                            "rebuild it with 'edgepack build')")

    def expect(value, ok: bool, field: str, wanted: str):
        if not ok:
            bad(f"'{field}' must be {wanted}, got {_type_name(value)}")
        return value

    def section(obj: dict, key: str, field: str, required: bool = False) -> dict:
        value = obj.get(key)
        if value is None and not required:
            return {}
        return expect(value, isinstance(value, dict), field, "an object")

    def optional(obj: dict, key: str, field: str, test, wanted: str):
        value = obj.get(key)
        if value is not None:
            expect(value, test(value), field, wanted)
        return value

    m = manifest
    expect(m, isinstance(m, dict), "the manifest", "a JSON object")
    schema = m.get("schema")
    expect(schema, _is_int(schema) and schema >= 1, "schema", "a positive integer")
    if schema > SCHEMA:
        bad(f"schema {schema} is newer than this edgepack reads ({SCHEMA}); upgrade edgepack")
    declared = optional(m, "format", "format", lambda v: v in ("ptl", "pte"), '"ptl" or "pte"')
    if fmt is not None and (declared or "ptl") != fmt:
        bad(f"it says format {json.dumps(declared)} but the file is a .{fmt}")
    for key in ("edgepack_version", "torch_version"):
        optional(m, key, key, lambda v: isinstance(v, str), "a string")
    optional(m, "bytecode_version", "bytecode_version", _is_int, "an integer")
    for key in _SECTIONS:
        section(m, key, key)
    task = m.get("task")
    expect(task, task in TASKS, "task", " or ".join(json.dumps(t) for t in TASKS))

    inp = section(m, "input", "input", required=True)
    kind = inp.get("kind")
    expect(kind, kind in ("image", "tensor"), "input.kind", '"image" or "tensor"')
    if kind == "image":
        dtype = inp.get("dtype")
        expect(dtype, dtype == "uint8", "input.dtype", '"uint8" for image input')
        optional(inp, "layout", "input.layout", lambda v: v == "HWC", '"HWC"')
        channels = inp.get("channels")
        expect(channels, isinstance(channels, list) and len(channels) > 0
               and all(_is_int(c) and c in (3, 4) for c in channels), "input.channels", "a list of 3 and/or 4")
        lo, hi = inp.get("min_side"), inp.get("max_side")
        expect(lo, _is_int(lo) and lo >= 1, "input.min_side", "a positive integer")
        expect(hi, _is_int(hi) and hi >= lo, "input.max_side", f"an integer >= input.min_side ({lo})")
    else:
        dtype = inp.get("dtype")
        expect(dtype, dtype == "float32", "input.dtype", '"float32" for tensor input')
        shape = inp.get("shape")
        expect(shape, isinstance(shape, list) and len(shape) == 4 and all(_is_int(s) and s >= 1 for s in shape)
               and shape[1] == 3 and shape[2] <= 1 << 16 and shape[3] <= 1 << 16 and shape[0] <= 1 << 10,
               "input.shape", "[N, 3, H, W] with sizes >= 1")
        pre = m.get("preprocess")
        expect(pre, isinstance(pre, dict), "preprocess", "an object for a float-input file (the caller's transform)")
        size = pre.get("input_size")
        if isinstance(size, list) and len(size) == 3 and size[1:] != shape[2:]:
            bad(f"preprocess.input_size {size} does not match input.shape {shape}")

    out = section(m, "output", "output", required=True)
    okind = out.get("kind")
    expect(okind, isinstance(okind, str) and okind in OUTPUT_KINDS, "output.kind",
           '"probabilities", "logits", "embedding" or "mask"')
    if (task == "embedding") != (okind == "embedding") or (okind == "mask" and task != "segmentation") \
            or (task == "segmentation" and okind not in ("mask", "probabilities")):
        bad(f"output.kind {okind} does not go with task {task}")
    if task == "segmentation":
        _check_segmentation_output(m, kind, out, expect, bad)
        return _check_rest(m, expect, section, optional)
    act = out.get("activation")
    expect(act, act in OUTPUT_KINDS[okind], "output.activation",
           " or ".join(json.dumps(a) for a in OUTPUT_KINDS[okind]) + f" for {okind}")
    if okind == "probabilities" and act != ("sigmoid" if task == "multilabel" else "softmax"):
        bad(f"output.activation {act} does not go with task {task}")
    optional(out, "dtype", "output.dtype", lambda v: v == "float32", '"float32"')
    size_key = "dim" if okind == "embedding" else "num_classes"
    n = out.get(size_key)
    expect(n, _is_int(n) and n >= 1, f"output.{size_key}", "a positive integer")
    shape = out.get("shape")
    wanted = [n] if kind == "image" else [inp["shape"][0], n]
    expect(shape, isinstance(shape, list) and all(_is_int(s) for s in shape), "output.shape", "a list of integers")
    if shape != wanted:
        bad(f"output.shape {shape} does not match output.{size_key} {n} ({wanted} for {kind} input)")
    labels = m.get("labels")
    if labels is not None and okind == "embedding":
        bad("'labels' must be null for an embedding file (it has no classes)")
    if labels is not None:
        expect(labels, isinstance(labels, list) and all(isinstance(v, str) for v in labels), "labels",
               "a list of strings or null")
        if len(labels) != n:
            bad(f"{len(labels)} labels for output.num_classes {n}")

    return _check_rest(m, expect, section, optional)


def _check_segmentation_output(m: dict, kind, out: dict, expect, bad) -> None:
    """A segmentation file: image input; a uint8 mask [H, W] at the frame's size, or a float32
    per-class map [C, h, w] (C = 1 for a binary model with sigmoid, else num_classes)."""
    if kind != "image":
        bad("a segmentation file takes image input (input.kind \"image\")")
    n = out.get("num_classes")
    expect(n, _is_int(n) and 2 <= n <= 255, "output.num_classes", "an integer in 2..255 for segmentation")
    shape = out.get("shape")
    if out.get("kind") == "mask":
        expect(out.get("dtype"), out.get("dtype") == "uint8", "output.dtype", '"uint8" for a mask')
        expect(shape, shape == MASK_SHAPE, "output.shape", '["H", "W"] for a mask (the frame\'s size)')
    else:
        act = out.get("activation")
        expect(act, act in ("softmax", "sigmoid"), "output.activation", '"softmax" or "sigmoid"')
        expect(out.get("dtype"), out.get("dtype") == "float32", "output.dtype", '"float32" for a per-class map')
        channels = 1 if act == "sigmoid" else n
        expect(shape, isinstance(shape, list) and len(shape) == 3 and all(_is_int(v) and v >= 1 for v in shape)
               and shape[0] == channels, "output.shape", f"[{channels}, h, w] for this per-class map")
        if act == "sigmoid" and n != 2:
            bad(f"a sigmoid per-class map has 2 classes (background, foreground), not {n}")
    labels = m.get("labels")
    if labels is not None:
        expect(labels, isinstance(labels, list) and all(isinstance(v, str) for v in labels), "labels",
               "a list of strings or null")
        if len(labels) != n:
            bad(f"{len(labels)} labels for output.num_classes {n}")


def _check_rest(m: dict, expect, section, optional) -> dict:
    q = section(m, "quantization", "quantization")
    optional(q, "mode", "quantization.mode", lambda v: v in ("none", "dynamic", "static"),
             '"none", "dynamic" or "static"')
    optional(q, "engine", "quantization.engine", lambda v: v in ENGINES, " or ".join(ENGINES))
    opt = section(m, "optimizer", "optimizer")
    optional(opt, "path", "optimizer.path", lambda v: isinstance(v, str), "a string")
    optional(opt, "dropped", "optimizer.dropped", lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v),
             "a list of strings")
    optional(opt, "delegated_ops", "optimizer.delegated_ops", lambda v: _is_int(v) and v >= 0, "an integer >= 0")
    optional(opt, "portable_ops", "optimizer.portable_ops",
             lambda v: isinstance(v, dict) and all(_is_int(c) and c >= 0 for c in v.values()),
             "an object of operator counts")
    optional(opt, "delegated_share", "optimizer.delegated_share", _is_number, "a number")
    val = section(m, "validation", "validation")
    optional(val, "passed", "validation.passed", lambda v: isinstance(v, bool), "true or false")
    for key in ("min_cosine", "min_cosine_gate", "judged_min_cosine", "mean_cosine", "retrieval_top1_agreement",
                "min_agreement"):
        optional(val, key, f"validation.{key}", _is_number, "a number")
    src = section(m, "source", "source")
    for key in ("description", "name", "kind", "arch", "sha256"):
        optional(src, key, f"source.{key}", lambda v: isinstance(v, str), "a string")
    et = section(m, "executorch", "executorch")
    optional(et, "version", "executorch.version", lambda v: isinstance(v, str), "a string")
    return m


def check_output(output, manifest: dict, path, frame=None) -> None:
    """The model's real output (a tensor, or its shape as a list) against the manifest's
    `output.shape`, `num_classes` and labels: a manifest copied onto another model, or a model
    swapped under a manifest, is caught on the first run instead of printing wrong labels. A
    mask is checked against the `frame` it was computed from (its size, dtype and values);
    without a frame, only its rank."""
    shape = list(output) if isinstance(output, (list, tuple)) else list(getattr(output, "shape", []))
    out = manifest.get("output") or {}
    declared = out.get("shape")
    if declared == MASK_SHAPE:
        _check_mask_output(output, shape, out, path, frame)
        return
    if [int(s) for s in shape] != declared:
        labels = manifest.get("labels")
        size = f"dim {out.get('dim')}" if out.get("kind") == "embedding" else f"num_classes {out.get('num_classes')}"
        raise ManifestError(
            f"{path}: the model's output has shape {[int(s) for s in shape]} but its manifest says {declared} "
            f"({size}"
            + (f", {len(labels)} labels" if isinstance(labels, list) else "")
            + "): the manifest does not belong to this model; rebuild it with 'edgepack build'")


def _check_mask_output(output, shape, out: dict, path, frame) -> None:
    wanted = list(frame.shape[:2]) if frame is not None else None
    if len(shape) != 2 or (wanted is not None and [int(s) for s in shape] != [int(s) for s in wanted]):
        raise ManifestError(f"{path}: the model's output has shape {[int(s) for s in shape]} but its manifest says a mask "
                            f"of the frame's size{f' {wanted}' if wanted else ''}: the manifest does not belong to this "
                            "model; rebuild it with 'edgepack build'")
    if isinstance(output, torch.Tensor):
        if output.dtype != torch.uint8:
            raise ManifestError(f"{path}: the model's mask is {output.dtype}, its manifest says uint8")
        if output.numel() and int(output.max()) >= int(out.get("num_classes", 0)):
            raise ManifestError(f"{path}: the model's mask has class {int(output.max())}, its manifest says "
                                f"{out.get('num_classes')} classes: the manifest does not belong to this model")


def is_segmentation(manifest: dict) -> bool:
    return manifest.get("task") == "segmentation"


def is_embedding(manifest: dict) -> bool:
    """Whether a (checked) manifest describes an embedding file."""
    return (manifest.get("output") or {}).get("kind") == "embedding"


def norm_problem(output) -> Optional[str]:
    """Why an embedding file's output is not a unit vector per row (None when it is); a zero
    vector (what L2 normalisation gives a zero feature vector) is allowed."""
    rows = output.detach().float().reshape(-1, output.shape[-1])
    if not bool(torch.isfinite(rows).all()):
        return "the vector is not finite (NaN or inf)"
    for norm in rows.norm(dim=-1).tolist():
        if abs(norm - 1.0) > UNIT_NORM_TOLERANCE and norm != 0.0:
            return f"the vector's L2 norm is {norm:.6f}, not 1 (the manifest says output.kind embedding, L2-normalised)"
    return None
