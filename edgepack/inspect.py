"""`edgepack inspect`: what is inside a `.ptl`, and whether a phone can run it.

Everything here reads the file as an archive (zip entries, the manifest, `bytecode.pkl`) without
running any of its code: `bytecode.pkl` is read by an unpickler that builds inert placeholders for
every class it names, so inspecting an untrusted file is safe. The only torch calls are the
version reader `torch.jit.mobile._get_model_bytecode_version` and, as a fallback when the bytecode
cannot be parsed, `torch.jit.mobile._export_operator_list` (which loads the module).

Operator counts are *call sites* in the bytecode (one per `OP`/`OPN` instruction), not how often
an operator runs at inference time.
"""
from __future__ import annotations

import collections
import hashlib
import io
import json
import os
import pathlib
import pickle
import re
import zipfile
import zlib
from typing import Dict, List, Optional

from .errors import EdgepackError
from .files import check_input_file
from .integrity import describe as describe_integrity, verify_ptl
from .manifest import MANIFEST_NAME
from .runtimes import (MIN_SUPPORTED_BYTECODE, OPERATOR_LIST_RUNTIMES, RUNTIME_MAX_BYTECODE, VERIFIED_RUNTIMES,
                       runtime_key, runtime_operators)

XNNPACK_PREFIX = "prepacked::"
QUANTIZED_PREFIXES = ("quantized::", "_quantized::")
_STORAGE_RE = re.compile(r"/(constants|data|bytecode)/[^/]+$")
_PLAIN_OP_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*::[A-Za-z0-9_.]+$")


def _zip_names(path: pathlib.Path) -> list:
    if check_input_file(path, "model").st_size == 0:
        raise EdgepackError(f"{path}: file is empty")
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError, ValueError, EOFError) as exc:
        if _is_flatbuffer(path):
            raise EdgepackError(f"{path}: flatbuffer-format mobile model; edgepack reads the zip (pickle) "
                                "lite-interpreter format only (save without _use_flatbuffer)") from None
        raise EdgepackError(f"{path}: not a TorchScript / .ptl file (not a valid zip archive: {exc}) nor an ExecuTorch .pte program") from None


def _is_flatbuffer(path: pathlib.Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head[4:8] == b"PTMF"


def open_artifact(path) -> Optional[dict]:
    """The manifest of a lite-interpreter file; explains full-JIT and non-TorchScript files."""
    path = pathlib.Path(path)
    names = _zip_names(path)
    if not any(n.endswith("/bytecode.pkl") for n in names):
        if any(n.endswith("/constants.pkl") for n in names):
            raise EdgepackError(
                f"{path}: full-JIT TorchScript (torch.jit.save), not a lite-interpreter file; "
                "rebuild with 'edgepack build' or save with module._save_for_lite_interpreter()"
            )
        raise EdgepackError(f"{path}: zip archive without TorchScript bytecode (not a .ptl file)")
    try:
        with zipfile.ZipFile(path) as zf:
            entry = next((n for n in names if n.endswith(f"/extra/{MANIFEST_NAME}")), None)
            if entry is None:
                return None
            manifest = json.loads(zf.read(entry).decode("utf-8"))
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise EdgepackError(f"{path}: corrupt manifest ({exc})") from None
    if manifest is None:  # a manifest that says `null` is not "no manifest": refused as invalid
        from .manifest import check_manifest

        check_manifest(manifest, path)
    return manifest


# --- bytecode.pkl, read without running anything ------------------------------------------------

class _Inert:
    """Stands in for any class or object a pickle names; accepts and ignores everything."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):
        pass

    def append(self, item):
        pass

    def extend(self, items):
        pass


class _InertUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        return type(f"{module}.{name}", (_Inert,), {})

    def persistent_load(self, pid):
        return _Inert()


def _read_bytecode(zf: zipfile.ZipFile, names: List[str]):
    entry = next(n for n in names if n.endswith("/bytecode.pkl"))
    return _InertUnpickler(io.BytesIO(zf.read(entry))).load()


def _op_name(entry) -> str:
    name, overload = str(entry[0]), str(entry[1]) if len(entry) > 1 and entry[1] is not None else ""
    return f"{name}.{overload}" if overload else name


def _parse_bytecode(bytecode) -> tuple:
    """(methods, {op: call sites}, {op: most arguments specified}) from the unpickled bytecode
    tuple (versions 4..9; argument counts are recorded from version 6 on, else None)."""
    methods: List[str] = []
    counts: Dict[str, int] = collections.Counter()
    nargs: Dict[str, Optional[int]] = {}
    for method in bytecode[1:]:
        name, body = method[0], method[1]
        sections = {item[0]: item[1] for item in body if isinstance(item, tuple) and len(item) == 2}
        if "instructions" not in sections or "operators" not in sections:
            raise ValueError(f"method {name}: no instructions/operators section")
        methods.append(str(name))
        table = list(sections["operators"])
        ops = [_op_name(op) for op in table]
        used = [0] * len(ops)
        for instr in sections["instructions"]:
            if instr[0] in ("OP", "OPN"):
                used[instr[1]] += 1
        for entry, op, n in zip(table, ops, used):
            counts[op] += n
            given = entry[2] if len(entry) > 2 and isinstance(entry[2], int) else None
            if given is not None:
                nargs[op] = max(nargs.get(op) or 0, given)
            else:
                nargs.setdefault(op, None)
    return methods, dict(counts), nargs


def _operators(path: pathlib.Path, zf: zipfile.ZipFile, names: List[str]) -> tuple:
    """(methods, {op: call sites}, {op: arguments specified}, how they were found)."""
    try:
        return (*_parse_bytecode(_read_bytecode(zf, names)), "bytecode")
    except Exception:  # an unexpected bytecode layout: ask torch (loads the module, no counts)
        from torch.jit.mobile import _export_operator_list, _load_for_lite_interpreter

        try:
            ops = _export_operator_list(_load_for_lite_interpreter(str(path)))
        except Exception as exc:  # noqa: BLE001 - any load failure is an input problem here
            raise EdgepackError(f"{path}: cannot read the bytecode ({_first_line(exc)})") from None
        return [], {op: None for op in ops}, {op: None for op in ops}, "torch.jit.mobile._export_operator_list"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def operator_table(path) -> Dict[str, Optional[int]]:
    """{root operator: most arguments a call site specifies (None before bytecode 6)}."""
    path = pathlib.Path(path)
    open_artifact(path)
    names = _zip_names(path)
    try:
        with zipfile.ZipFile(path) as zf:
            _, _, nargs, _ = _operators(path, zf, names)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError) as exc:
        raise EdgepackError(f"{path}: corrupt archive ({exc})") from None
    return nargs


def operator_problems(ptl_path, runtime: str = "2.1") -> Optional[List[str]]:
    """Operators of `ptl_path` that `runtime` lacks, or calls with more arguments than its schema
    has (files of bytecode >= 6 record how many each call site passes). [] when all is well,
    None when the runtime's operator list is not known here."""
    known = runtime_operators(runtime)
    if known is None:
        return None
    key = runtime_key(runtime)
    problems = []
    for op, nargs in sorted(operator_table(ptl_path).items()):
        if op not in known:
            problems.append(f"{op} does not exist in torch {key}")
        elif nargs is not None and nargs > known[op]:
            problems.append(f"{op} is called with {nargs} arguments, torch {key} takes at most {known[op]}")
    return problems


def root_operators(path) -> List[str]:
    """Sorted root operator names (`aten::conv2d`, `aten::add.Tensor`, ...) a runtime must have."""
    return sorted(operator_table(path))


def _bytecode_version(path: pathlib.Path) -> int:
    from torch.jit.mobile import _get_model_bytecode_version

    try:
        return int(_get_model_bytecode_version(str(path)))
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError/ValueError on bad files
        raise EdgepackError(f"{path}: cannot read the bytecode version ({_first_line(exc)})") from None


def describe(path) -> dict:
    """Everything `edgepack inspect` reports about a `.ptl`, as JSON-ready data (edgepack.formats.describe
    picks the format)."""
    from .manifest import check_manifest

    path = pathlib.Path(path)
    manifest = open_artifact(path)
    if manifest is not None:
        check_manifest(manifest, path, "ptl")
    integrity = verify_ptl(path, manifest)  # a damaged file is refused (exit 2)
    names = _zip_names(path)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            methods, counts, _, op_source = _operators(path, zf, names)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError) as exc:
        raise EdgepackError(f"{path}: corrupt archive ({exc})") from None
    version = _bytecode_version(path)
    # Tensor storages; backported files (bytecode < 8) hold each one twice, so count distinct ones.
    param_bytes = sum(size for _, size in {(i.CRC, i.file_size) for i in infos if _STORAGE_RE.search(i.filename)})
    extra = sorted(i.filename.split("/extra/", 1)[1] for i in infos if "/extra/" in i.filename)
    ops = [{"name": op, "count": counts[op]} for op in sorted(counts)]
    data = path.read_bytes()
    return {
        "file": str(path),
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": "lite-interpreter (zip/pickle)",
        "bytecode_version": version,
        "runtimes": {rt: MIN_SUPPORTED_BYTECODE <= version <= top for rt, top in RUNTIME_MAX_BYTECODE.items()},
        # operators the old runtimes lack (from edgepack/data/ops-<release>.json; None: list not available)
        "operator_problems": {rt: operator_problems(path, rt) for rt in OPERATOR_LIST_RUNTIMES},
        "parameter_bytes": param_bytes,
        "methods": methods,
        "operators": ops,
        "operator_source": op_source,
        "num_operators": len(ops),
        "xnnpack_prepacked": any(op.startswith(XNNPACK_PREFIX) for op in counts),
        "quantized_ops": any(op.startswith(QUANTIZED_PREFIXES) for op in counts),
        "extra_files": extra,
        "integrity": integrity,
        "manifest": manifest,
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def format_manifest_lines(m: dict) -> List[str]:
    """The manifest part of `edgepack inspect`'s output, shared by every format."""
    lines: List[str] = []
    if not m:
        lines.append("  manifest        none (not built by edgepack)")
    else:
        inp, out, pre = m.get("input") or {}, m.get("output") or {}, m.get("preprocess") or {}
        q, opt, val = m.get("quantization") or {}, m.get("optimizer") or {}, m.get("validation") or {}
        src = m.get("source") or {}
        lines.append(f"  built by        edgepack {m.get('edgepack_version')} with torch {m.get('torch_version')}")
        if src:
            desc = src.get("description") or " ".join(str(src[k]) for k in ("name", "kind", "arch") if src.get(k))
            lines.append(f"  source          {desc or '?'}")
        if inp.get("kind") == "image":
            lines.append(f"  input           {inp.get('dtype')} image [H, W, {'|'.join(map(str, inp.get('channels', [])))}] "
                         f"{inp.get('layout')} {inp.get('color', '')}, sides {inp.get('min_side')}..{inp.get('max_side')}")
        elif inp:
            lines.append(f"  input           {inp.get('dtype')} tensor {inp.get('shape')} {inp.get('layout')}")
        if pre:
            lines.append(f"  preprocess      {'bundled' if pre.get('bundled') else 'not bundled'}: "
                         f"size {pre.get('input_size')}, {pre.get('interpolation')}, crop {pre.get('crop_mode')} "
                         f"{pre.get('crop_pct')}, mean {pre.get('mean')}, std {pre.get('std')}"
                         + (f", resize policy {pre['resize_policy']}" if pre.get("resize_policy") else ""))
        lines.append(f"  task            {m.get('task')}")
        if out.get("kind") == "mask":
            lines.append(f"  output          mask {out.get('dtype')} [H, W] at the frame's resolution: class index of "
                         f"{out.get('num_classes')} classes ({out.get('upsampling')})")
        elif m.get("task") == "segmentation":
            lines.append(f"  output          per-class {out.get('activation')} map {out.get('dtype')} {out.get('shape')} "
                         f"at the network's resolution; {out.get('frame_mapping')}")
        elif out.get("kind") == "embedding":
            lines.append(f"  output          embedding {out.get('shape')}: {out.get('dim')} pooled features, "
                         f"L2-normalised ({out.get('activation')})")
        else:
            lines.append(f"  output          {out.get('kind')} {out.get('shape')} ({out.get('activation')})")
        labels = m.get("labels")
        if labels:
            shown = ", ".join(map(str, labels[:8])) + (f", ... ({len(labels)} total)" if len(labels) > 8 else "")
            lines.append(f"  labels          {shown}")
        lines.append(f"  quantization    {q.get('mode', 'none')}" + (f" ({q.get('engine')})" if q.get("engine") else ""))
        if opt:
            dropped = opt.get("dropped") or []
            lines.append(f"  optimizer       {opt.get('path')}" + (f" (dropped: {', '.join(dropped)})" if dropped else ""))
        if val and "retrieval_top1_agreement" in val:
            lines.append(f"  validation      {'passed' if val.get('passed') else 'FAILED'}: min cosine "
                         f"{val.get('min_cosine')} (gate {val.get('min_cosine_gate')}), mean cosine "
                         f"{val.get('mean_cosine')}, top-1 retrieval agreement {val.get('retrieval_top1_agreement')} "
                         f"(gate {val.get('min_agreement')}) on {val.get('inputs')}"
                         + (f" ({val['engine']} engine)" if val.get("engine") else ""))
        elif val and "pixel_agreement" in val:
            truth = (f"; mIoU on {val.get('truth_images')} ground-truth masks {val.get('miou')} vs float "
                     f"{val.get('float_miou')} (drop {val.get('miou_drop')}, gate {val.get('max_miou_drop_gate')})"
                     if val.get("miou") is not None else "")
            lines.append(f"  validation      {'passed' if val.get('passed') else 'FAILED'}: mask pixel agreement "
                         f"{val.get('judged_pixel_agreement')} on {val.get('judged_on')} (gate "
                         f"{val.get('min_pixel_agreement_gate')}), mIoU vs eager {val.get('miou_vs_reference')}{truth}; "
                         f"inputs {val.get('inputs')}" + (f" ({val['engine']} engine)" if val.get("engine") else ""))
        elif val:
            lines.append(f"  validation      {'passed' if val.get('passed') else 'FAILED'}: max rel err "
                         f"{val.get('max_rel_err')}, top-1 agreement {val.get('top1_agreement')} "
                         f"on {val.get('inputs')}" + (f" ({val['engine']} engine)" if val.get("engine") else ""))
    return lines


def format_description(info: dict) -> str:
    """Human-readable `edgepack inspect` output."""
    m = info.get("manifest") or {}
    ok_runtimes = [rt if rt in VERIFIED_RUNTIMES else f"{rt}?" for rt, ok in info["runtimes"].items() if ok]
    lines = [
        f"{info['file']}",
        f"  size            {_mb(info['size_bytes'])} ({info['size_bytes']} bytes), parameters {_mb(info['parameter_bytes'])}",
        f"  sha256          {info['sha256']}",
        f"  bytecode        version {info['bytecode_version']} (readable by lite runtimes "
        f"{', '.join(ok_runtimes) if ok_runtimes else 'none known'}; ?: from an unverified table)",
        *[f"  {'torch ' + rt + ' ops':<16}" + ("not checked (no operator list)" if probs is None else
                                   "all present" if not probs else "PROBLEMS: " + "; ".join(probs))
          for rt, probs in info.get("operator_problems", {}).items()],
        f"  xnnpack ops     {'yes' if info['xnnpack_prepacked'] else 'no'}",
        f"  quantized ops   {'yes' if info['quantized_ops'] else 'no'}",
        f"  extra files     {', '.join(info['extra_files']) or '-'}",
        f"  integrity       {describe_integrity(info['integrity'])}",
    ]
    lines += format_manifest_lines(m)
    lines.append(f"  operators       {info['num_operators']} root operators"
                 + (" (call sites in bytecode)" if info["operator_source"] == "bytecode" else ""))
    for op in info["operators"]:
        count = "" if op["count"] is None else f"{op['count']:5d}  "
        lines.append(f"    {count}{op['name']}")
    return "\n".join(lines)


def ops_yaml_text(ops: List[str]) -> str:
    """Root operators as the YAML list PyTorch's selective (custom) mobile build reads:
    `SELECTED_OP_LIST=ops.yaml` for scripts/build_android.sh, or the root-ops file of
    tools/code_analyzer/gen_op_registration_allowlist.py / torchgen's legacy allow list."""
    out = ["# Root operators of a lite-interpreter model, written by edgepack inspect/build --ops-yaml.",
           "# Use as SELECTED_OP_LIST for a selective PyTorch mobile build."]
    for op in ops:
        out.append(f"- {op}" if _PLAIN_OP_RE.match(op) else f"- {json.dumps(op)}")
    return "\n".join(out) + "\n"


def write_ops_yaml(ptl_path, yaml_path) -> List[str]:
    """Write the root operator list of `ptl_path` to `yaml_path` (atomic); returns the ops."""
    ops = root_operators(ptl_path)
    target = pathlib.Path(yaml_path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(ops_yaml_text(ops), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EdgepackError(f"{yaml_path}: cannot write the operator list ({exc.strerror or exc})") from None
    return ops
