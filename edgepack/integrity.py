"""Digests that prove a model file is the one edgepack validated (#14 item 2).

The manifest's `integrity` section records digests of everything in the file except the manifest
itself, and every command that reads a model (`predict`, `inspect`, `check`, `bench`) verifies them
before the file reaches a runtime: torch's zip reader ignores the CRCs, so one flipped weight byte
otherwise gives silently different answers.

`.ptl` (zip archive; `scheme: "ptl-records-v1"`): `records` maps each record's name inside the
archive folder (`data.pkl`, `bytecode.pkl`, `data/0`, `version`, ...) to the sha256 of its stored
(uncompressed) bytes. Left out: `extra/edgepack.json` (the manifest) and `.data/serialization_id`,
which torch's writer derives from the CRCs of all records, the manifest's included, and which no
loader reads. A file verifies when its records (those two aside) are exactly the recorded ones,
with equal digests, and no name appears twice.

`.pte` (flatbuffer; `scheme: "pte-masked-manifest-v1"`): `sha256` is the digest of the file bytes
with the manifest string's bytes removed: the padded UTF-8 text the `edgepack_manifest` method
returns, which occurs exactly once in the file; its flatbuffer length prefix stays in, so the
manifest's (fixed) length is covered. The build writes the final manifest over a same-length
placeholder, so the digest of the placeholder file is the digest of the final file.
"""
from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from typing import Dict, Iterable, Optional, Tuple

from .errors import EdgepackError

ALGORITHM = "sha256"
PTL_SCHEME = "ptl-records-v1"
PTE_SCHEME = "pte-masked-manifest-v1"
MANIFEST_RECORD = "extra/edgepack.json"
# Written by torch's writer from the CRCs of every record, the manifest's included; never read by a loader.
UNCOVERED_RECORDS = (MANIFEST_RECORD, ".data/serialization_id")


class DamagedFile(EdgepackError):
    """The file's bytes do not match the digests its manifest records (exit 2)."""

    def __init__(self, path, detail: str):
        super().__init__(f"{path}: the file is damaged: {detail}; rebuild it or copy it again")
        self.detail = detail


def sha256_hex(data) -> str:
    return hashlib.sha256(data).hexdigest()


# --- .ptl ---------------------------------------------------------------------------------------

def ptl_section(records: Dict[str, str]) -> dict:
    return {"algorithm": ALGORITHM, "scheme": PTL_SCHEME,
            "records": {name: records[name] for name in sorted(records)}}


def writer_records(min_version: Optional[int]) -> Dict[str, bytes]:
    """The records torch's archive writer adds by itself (`version`, `byteorder`, ...), as it
    writes them for an archive with this minimum version: learnt from an empty in-memory archive,
    so the digests follow whatever this torch writes."""
    import torch

    buf = io.BytesIO()
    writer = torch._C.PyTorchFileWriter(buf)
    if min_version is not None:
        writer.set_min_version(min_version)
    writer.write_end_of_file()
    del writer
    out = {}
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
        for info in zf.infolist():
            name = record_name(info.filename)
            if name not in UNCOVERED_RECORDS:
                out[name] = zf.read(info)
    return out


def record_name(entry: str) -> str:
    """`archive/data/0` -> `data/0`: the record name without the archive's inner folder."""
    return entry.split("/", 1)[1] if "/" in entry else entry


def ptl_file_digests(path) -> Tuple[Dict[str, str], list]:
    """({record: sha256} of the archive's covered records, duplicated names). Raises DamagedFile
    for a record whose stored CRC does not match its bytes."""
    digests: Dict[str, str] = {}
    duplicates = []
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = record_name(info.filename)
                if name in UNCOVERED_RECORDS:
                    continue
                if name in digests:
                    duplicates.append(name)
                h = hashlib.sha256()
                try:
                    with zf.open(info) as f:
                        for block in iter(lambda: f.read(1 << 20), b""):
                            h.update(block)
                except (zipfile.BadZipFile, zlib.error) as exc:
                    if "CRC" in str(exc):
                        raise DamagedFile(path, f"record {name} does not match the CRC stored for it") from None
                    raise
                digests[name] = h.hexdigest()
    except (zipfile.BadZipFile, zlib.error) as exc:
        raise DamagedFile(path, f"unreadable archive ({exc})") from None
    except (OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise DamagedFile(path, f"unreadable archive ({exc})") from None
    return digests, duplicates


def verify_ptl(path, manifest: Optional[dict]) -> dict:
    """Check a `.ptl` against its manifest's digests; the result for `inspect` (DamagedFile when
    they differ)."""
    section = _section(path, manifest, PTL_SCHEME)
    if section is None:
        return _absent()
    expected = section.get("records")
    if not isinstance(expected, dict) or not expected or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in expected.items()):
        raise DamagedFile(path, "the manifest's integrity.records is not a map of record names to digests")
    actual, duplicates = ptl_file_digests(path)
    if duplicates:
        raise DamagedFile(path, f"record {duplicates[0]} appears more than once")
    missing = sorted(set(expected) - set(actual))
    if missing:
        raise DamagedFile(path, f"record {missing[0]} is missing" + _more(missing))
    extra = sorted(set(actual) - set(expected))
    if extra:
        raise DamagedFile(path, f"record {extra[0]} is not one the file was built with" + _more(extra))
    changed = sorted(name for name in expected if expected[name].lower() != actual[name])
    if changed:
        raise DamagedFile(path, f"record {changed[0]} does not match its sha256" + _more(changed))
    return {"status": "verified", "scheme": PTL_SCHEME, "algorithm": ALGORITHM, "records": len(expected)}


# --- .pte ---------------------------------------------------------------------------------------

def pte_masked_digest(data: bytes, manifest_text: str) -> str:
    """sha256 of `data` without the one occurrence of the manifest string's bytes."""
    text = manifest_text.encode("utf-8")
    start = data.find(text)
    if start < 0 or not text or data.find(text, start + 1) >= 0:
        raise ValueError("the manifest string does not occur exactly once in the program")
    h = hashlib.sha256()
    view = memoryview(data)
    h.update(view[:start])
    h.update(view[start + len(text):])
    return h.hexdigest()


def pte_section(digest: str) -> dict:
    return {"algorithm": ALGORITHM, "scheme": PTE_SCHEME, "sha256": digest}


def verify_pte(path, manifest: Optional[dict], manifest_text: Optional[str], data: Optional[bytes] = None) -> dict:
    section = _section(path, manifest, PTE_SCHEME)
    if section is None:
        return _absent()
    expected = section.get("sha256")
    if not isinstance(expected, str):
        raise DamagedFile(path, "the manifest's integrity.sha256 is not a digest")
    if data is None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise EdgepackError(f"{path}: cannot read the model ({exc.strerror or exc})") from None
    try:
        actual = pte_masked_digest(data, manifest_text or "")
    except ValueError as exc:
        raise DamagedFile(path, str(exc)) from None
    if actual != expected.lower():
        raise DamagedFile(path, "the program's bytes do not match the sha256 in its manifest")
    return {"status": "verified", "scheme": PTE_SCHEME, "algorithm": ALGORITHM}


# --- shared -------------------------------------------------------------------------------------

def _section(path, manifest: Optional[dict], scheme: str) -> Optional[dict]:
    if not isinstance(manifest, dict) or manifest.get("integrity") is None:
        return None
    section = manifest["integrity"]
    if not isinstance(section, dict):
        raise DamagedFile(path, "the manifest's integrity section is not an object")
    if section.get("algorithm") != ALGORITHM or section.get("scheme") != scheme:
        raise DamagedFile(path, f"unknown integrity scheme {section.get('scheme')!r}/{section.get('algorithm')!r} "
                                f"for this format (expected {scheme}/{ALGORITHM})")
    return section


def _absent() -> dict:
    return {"status": "not recorded",
            "note": "the manifest has no digests (built by an edgepack without them): not verified"}


def _more(names: Iterable[str]) -> str:
    names = list(names)
    return f" (and {len(names) - 1} more)" if len(names) > 1 else ""


def describe(result: dict) -> str:
    """One line for `edgepack inspect`."""
    if result.get("status") == "verified":
        what = f"{result['records']} records" if "records" in result else "program bytes"
        return f"verified ({what}, {result['algorithm']}; {result['scheme']})"
    return result.get("status", "?") + (f" ({result['note']})" if result.get("note") else "")
