"""Edits of built model files for the tests and the fuzz campaign: read and replace the manifest
of a `.ptl` (the `extra/edgepack.json` record) or a `.pte` (the string of the `edgepack_manifest`
constant method, replaced in place at the same length), and list a file's records (a `.ptl`'s zip
entries; a `.pte`'s flatbuffer, segments and the manifest string) as byte ranges to damage."""
from __future__ import annotations

import json
import pathlib
import zipfile
from typing import Dict, List, Optional, Tuple, Union

import torch

from edgepack.manifest import MANIFEST_NAME


def is_pte(path) -> bool:
    with open(path, "rb") as f:
        return f.read(8)[4:6] == b"ET"


def manifest_text(path) -> Optional[str]:
    """The manifest text as stored (a .pte's keeps its padding)."""
    path = pathlib.Path(path)
    if is_pte(path):
        from edgepack.formats.pte import _deserialize, manifest_from_program

        return manifest_from_program(_deserialize(path, path.read_bytes()))
    with zipfile.ZipFile(path) as zf:
        entry = next((n for n in zf.namelist() if n.endswith(f"/extra/{MANIFEST_NAME}")), None)
        return zf.read(entry).decode("utf-8") if entry else None


def read_manifest(path) -> dict:
    return json.loads(manifest_text(path))


def with_manifest(src, dest, manifest: Union[dict, list, str, int, None], raw: bool = False) -> pathlib.Path:
    """Copy `src` to `dest` with its manifest replaced by `manifest` (any JSON value; with `raw`,
    a str is written as-is, not JSON-encoded). A .pte's new text must fit in the old one's length
    (it is padded with spaces); ValueError when it does not."""
    src, dest = pathlib.Path(src), pathlib.Path(dest)
    text = manifest if raw else json.dumps(manifest, sort_keys=True, indent=1)
    if is_pte(src):
        old = manifest_text(src)
        data = src.read_bytes()
        new_bytes, old_bytes = text.encode("utf-8"), old.encode("utf-8")
        if len(new_bytes) > len(old_bytes):
            raise ValueError(f"manifest of {len(new_bytes)} bytes does not fit in {len(old_bytes)}")
        new_bytes += b" " * (len(old_bytes) - len(new_bytes))
        assert data.count(old_bytes) == 1
        dest.write_bytes(data.replace(old_bytes, new_bytes))
        return dest
    reader = torch._C.PyTorchFileReader(str(src))
    with open(dest, "wb") as f:
        writer = torch._C.PyTorchFileWriter(f)
        if reader.has_record("version"):
            writer.set_min_version(int(reader.get_record("version").decode().strip()))
        for name in reader.get_all_records():
            if name in ("version", "byteorder", ".data/version", ".data/serialization_id"):
                continue
            data = text.encode("utf-8") if name == f"extra/{MANIFEST_NAME}" else reader.get_record(name)
            writer.write_record(name, data, len(data))
        writer.write_end_of_file()
        del writer
    return dest


def records(path) -> Dict[str, List[Tuple[int, int]]]:
    """{record kind: [(offset, length), ...]} byte ranges of the file's records.

    .ptl kinds: `weights` (tensor storages under data/ and constants/), `bytecode` (bytecode.pkl),
    `code` (data.pkl, constants.pkl and the code/ folder), `manifest` (extra/edgepack.json),
    `other` (version, byteorder, ...), `zip-headers` (local headers) and `zip-directory` (the
    central directory and its end record). .pte kinds: `header` (the first 64 bytes: flatbuffer
    root and extended header), `program` (the flatbuffer: plans, instructions, small constants),
    `manifest` (the manifest string inside the flatbuffer), `segments` (delegate blobs and
    constant weights stored after the flatbuffer)."""
    path = pathlib.Path(path)
    data = path.read_bytes()
    out: Dict[str, List[Tuple[int, int]]] = {}
    add = lambda kind, start, length: length > 0 and out.setdefault(kind, []).append((start, length))  # noqa: E731
    if is_pte(path):
        text = manifest_text(path)
        # the extended header (magic "eh00") names where the segments start
        seg_start = len(data)
        if data[8:12] == b"eh00":
            seg_start = int.from_bytes(data[24:32], "little") or len(data)
            prog_len = int.from_bytes(data[16:24], "little")
        else:
            prog_len = len(data)
        add("header", 0, 64)
        m = data.find(text.encode("utf-8")) if text else -1
        if m >= 0:
            add("program", 64, m - 64)
            add("manifest", m, len(text.encode("utf-8")))
            add("program", m + len(text.encode("utf-8")), prog_len - m - len(text.encode("utf-8")))
        else:
            add("program", 64, prog_len - 64)
        add("segments", seg_start, len(data) - seg_start)
        return out
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    for info in infos:
        name = info.filename.split("/", 1)[1] if "/" in info.filename else info.filename
        header = 30 + len(info.filename.encode()) + len(info.extra)
        # the local header's extra field can differ from the central one: read it
        n_len = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little")
        e_len = int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
        header = 30 + n_len + e_len
        add("zip-headers", info.header_offset, header)
        start = info.header_offset + header
        if name.startswith(("data/", "constants/")) and not name.endswith(".pkl"):
            kind = "weights"
        elif name == "bytecode.pkl":
            kind = "bytecode"
        elif name in ("data.pkl", "constants.pkl") or name.startswith("code/"):
            kind = "code"
        elif name == f"extra/{MANIFEST_NAME}":
            kind = "manifest"
        else:
            kind = "other"
        add(kind, start, info.compress_size)
    end = max(i.header_offset for i in infos)
    last = next(i for i in infos if i.header_offset == end)
    tail = end + 30 + int.from_bytes(data[end + 26:end + 28], "little") + \
        int.from_bytes(data[end + 28:end + 30], "little") + last.compress_size
    add("zip-directory", tail, len(data) - tail)
    return out
