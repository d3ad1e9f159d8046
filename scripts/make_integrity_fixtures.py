"""Regenerate the small model files the Android core's JVM tests verify digests on
(android_demo/core/src/test/resources/integrity/):

    .venv/bin/python scripts/make_integrity_fixtures.py

- `tiny.ptl`: a 3->2 linear layer saved for the lite interpreter, its final file written by
  `manifest.write_archive` with the `integrity` section from `manifest.archive_digests`: the same
  code path, record layout and digests as an `edgepack build` (only the model is tiny).
- `tiny_tampered.ptl`: `tiny.ptl` with one byte of the weight record `data/0` flipped and the zip's
  CRC-32 fields updated to match, so that only edgepack's digests can tell.
- `tiny.pte` / `tiny_tampered.pte` (when ExecuTorch is installed): the same layer lowered with the
  manifest as constant method `edgepack_manifest`, written padded and swapped in place as the build
  does, with the masked digest; the tampered copy has one weight byte flipped
  (the program still loads and runs, with different answers).
- `manifest.pte.json`: the .pte's manifest text exactly as the method returns it (padding included),
  which the app gets from `module.execute("edgepack_manifest")`.

The files are a few kB and deterministic (rerunning gives the same bytes).
"""
import json
import pathlib
import struct
import sys
import tempfile
import zipfile
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
OUT = ROOT / "android_demo" / "core" / "src" / "test" / "resources" / "integrity"
sys.path.insert(0, str(ROOT))


def flip_in_record(data: bytearray, path: pathlib.Path, suffix: str) -> None:
    """Flip one byte in the middle of the record whose name ends with `suffix`, fixing both CRCs."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(suffix))
    h = info.header_offset
    n, e = struct.unpack("<HH", data[h + 26:h + 30])
    start = h + 30 + n + e
    data[start + info.file_size // 2] ^= 0x40
    crc = zlib.crc32(bytes(data[start:start + info.file_size])) & 0xFFFFFFFF
    struct.pack_into("<I", data, h + 14, crc)
    pos = data.find(b"PK\x01\x02")
    while data[pos:pos + 4] == b"PK\x01\x02":
        n, e, c = struct.unpack("<HHH", data[pos + 28:pos + 34])
        if data[pos + 46:pos + 46 + n].decode() == info.filename:
            struct.pack_into("<I", data, pos + 16, crc)
        pos += 46 + n + e + c


def make_ptl(model) -> None:
    import torch

    from edgepack import manifest as mf

    with tempfile.TemporaryDirectory() as tmp:
        candidate = pathlib.Path(tmp) / "candidate.ptl"
        torch.jit.script(model)._save_for_lite_interpreter(str(candidate), _extra_files={mf.MANIFEST_NAME: "{}"})
        manifest = {"schema": mf.SCHEMA, "format": "ptl", "labels": ["a", "b"], "note": "integrity fixture",
                    "integrity": mf.archive_digests(candidate)}
        mf.write_archive(candidate, OUT / "tiny.ptl", manifest)
    data = bytearray((OUT / "tiny.ptl").read_bytes())
    flip_in_record(data, OUT / "tiny.ptl", "/data/0")
    (OUT / "tiny_tampered.ptl").write_bytes(bytes(data))


def make_pte(model) -> bool:
    try:
        from edgepack.formats import pte
    except ImportError:
        return False
    if pte.executorch_version() is None:
        return False
    import torch

    from edgepack import integrity, manifest as mf

    pte._require_executorch()
    exported = torch.export.export(model, (torch.zeros(1, 3),))
    base = {"schema": mf.SCHEMA, "format": "pte", "labels": ["a", "b"], "note": "integrity fixture"}
    reserved = pte.padded_manifest(base)
    lowered = pte.lower(exported, reserved, delegate=False)
    digest = integrity.pte_masked_digest(lowered.buffer, reserved)
    final_text = pte.padded_manifest(dict(base, integrity=integrity.pte_section(digest)), len(reserved.encode()))
    data = pte.replace_manifest(lowered.buffer, reserved, final_text)
    (OUT / "tiny.pte").write_bytes(data)
    (OUT / "manifest.pte.json").write_text(final_text, encoding="utf-8")
    weights = struct.pack("<3f", 0.5, -1.0, 2.0)  # the first weight row, in the constant data
    assert data.count(weights) == 1
    tampered = bytearray(data)
    tampered[data.find(weights) + 7] ^= 0x01  # -1.0 becomes -0.25: a silent wrong answer
    (OUT / "tiny_tampered.pte").write_bytes(bytes(tampered))
    return True


def main() -> int:
    import torch

    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2).eval()
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]))
        model.bias.copy_(torch.tensor([0.1, -0.2]))
    make_ptl(model)
    made_pte = make_pte(model)
    for p in sorted(OUT.iterdir()):
        print(f"wrote {p.relative_to(ROOT)} ({p.stat().st_size} bytes)")
    if not made_pte:
        print("ExecuTorch not installed: .pte fixtures not written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
