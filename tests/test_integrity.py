"""Integrity (#14 item 2, row 3): the manifest's digests cover every record but the manifest, and
every command that reads a model refuses a file whose bytes changed after the build."""
from __future__ import annotations

import hashlib
import json
import shutil
import struct
import pathlib
import sys
import zipfile
import zlib

import pytest
from PIL import Image

from edgepack import BuildOptions, build
from edgepack import integrity
from edgepack.errors import EdgepackError
from edgepack.inspect import describe
from edgepack.manifest import read_manifest
from conftest import json_out, one_line_error, random_image

pytestmark = pytest.mark.fallback


@pytest.fixture(scope="module")
def built(tiny_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("integrity") / "tiny.ptl"
    build(str(tiny_ckpt), BuildOptions(output=str(out), optimize="none"), report=lambda m: None)
    return out


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "frame.png"
    Image.fromarray(random_image(7, (90, 120)).numpy()).save(path)
    return path


def _entries(path) -> dict:
    """{entry name: (data offset, size, local header offset, ZipInfo)} of a stored zip."""
    data = path.read_bytes()
    out = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            h = info.header_offset
            n, e = struct.unpack("<HH", data[h + 26:h + 30])
            out[info.filename] = (h + 30 + n + e, info.file_size, h, info)
    return out


def weight_record(path) -> str:
    """The largest tensor record (`archive/data/N`, or `constants/N` in older layouts)."""
    entries = _entries(path)
    names = [n for n in entries if "/data/" in n or "/constants/" in n]
    return max(names, key=lambda n: entries[n][1])


def flip_byte(path, dest, entry: str, fix_crc: bool, at: float = 0.5) -> None:
    """Copy `path` to `dest` with one byte flipped inside `entry`'s data. With `fix_crc`, the zip's
    CRC-32 fields are updated too, as a careful attacker (or a tool that re-zips) would: then only
    edgepack's digests can tell."""
    data = bytearray(path.read_bytes())
    offset, size, header, _ = _entries(path)[entry]
    pos = offset + int(size * at)
    data[pos] ^= 0x40
    if fix_crc:
        crc = zlib.crc32(bytes(data[offset:offset + size])) & 0xFFFFFFFF
        struct.pack_into("<I", data, header + 14, crc)
        cd = data.rfind(b"PK\x05\x06")
        cd_offset = struct.unpack("<I", data[cd + 16:cd + 20])[0]
        if cd_offset == 0xFFFFFFFF:  # zip64: find the central header by scanning
            cd_offset = data.find(b"PK\x01\x02")
        pos = cd_offset
        while data[pos:pos + 4] == b"PK\x01\x02":
            n, e, c = struct.unpack("<HHH", data[pos + 28:pos + 34])
            if data[pos + 46:pos + 46 + n].decode() == entry:
                struct.pack_into("<I", data, pos + 16, crc)
            pos += 46 + n + e + c
    dest.write_bytes(bytes(data))


def test_manifest_digests_cover_every_record_but_the_manifest(built):
    manifest = read_manifest(built)
    section = manifest["integrity"]
    assert section["algorithm"] == "sha256" and section["scheme"] == "ptl-records-v1"
    with zipfile.ZipFile(built) as zf:
        names = {integrity.record_name(n): zf.read(n) for n in zf.namelist()}
    assert set(section["records"]) == set(names) - {"extra/edgepack.json", ".data/serialization_id"}
    assert {"data.pkl", "bytecode.pkl", "version", "byteorder"} <= set(section["records"])
    assert any(n.startswith("data/") for n in section["records"])
    for name, digest in section["records"].items():  # the digests of the final file's bytes
        assert digest == hashlib.sha256(names[name]).hexdigest(), name


def test_intact_file_verifies_everywhere(built, image, cli):
    info = json_out(cli("inspect", built, "--json", expect=0))
    assert info["integrity"]["status"] == "verified"
    assert info["integrity"]["records"] == len(read_manifest(built)["integrity"]["records"])
    assert "integrity       verified (" in cli("inspect", built, expect=0).stdout
    cli("predict", built, image, expect=0)


@pytest.mark.parametrize("fix_crc", [False, True], ids=["crc-stale", "crc-fixed"])
def test_byte_flip_in_a_weight_record_is_refused(built, image, cli, tmp_path, fix_crc):
    entry = weight_record(built)
    bad = tmp_path / "bad.ptl"
    flip_byte(built, bad, entry, fix_crc)
    name = integrity.record_name(entry)
    commands = [["predict", bad, image], ["inspect", bad], ["inspect", bad, "--json"],
                ["bench", bad, "--runs", "1", "--warmup", "0"],
                ["check", bad, "--python", sys.executable]]  # refused before any runtime starts
    for command in commands:
        res = cli(*command)
        assert res.exit_code == 2, (command, res.stdout, res.stderr)
        line = one_line_error(res)
        assert "the file is damaged" in line and f"record {name}" in line, line
    with pytest.raises(integrity.DamagedFile):
        describe(bad)


def test_every_kind_of_record_is_covered(built, tmp_path):
    """A flip in the bytecode, the pickled module or the version record is caught just as well."""
    for suffix in ("/bytecode.pkl", "/data.pkl", "/version"):
        entry = next(n for n in _entries(built) if n.endswith(suffix))
        bad = tmp_path / "bad.ptl"
        flip_byte(built, bad, entry, fix_crc=True, at=0.0)
        with pytest.raises(EdgepackError, match=f"the file is damaged: record {integrity.record_name(entry)} "):
            integrity.verify_ptl(bad, read_manifest(bad))


def test_added_or_removed_records_are_damage(built, tmp_path):
    manifest = read_manifest(built)
    fewer = dict(manifest, integrity=dict(manifest["integrity"], records=dict(manifest["integrity"]["records"])))
    fewer["integrity"]["records"]["data/999"] = "0" * 64
    with pytest.raises(EdgepackError, match="record data/999 is missing"):
        integrity.verify_ptl(built, fewer)
    more = dict(manifest, integrity=dict(manifest["integrity"], records=dict(manifest["integrity"]["records"])))
    del more["integrity"]["records"]["bytecode.pkl"]
    with pytest.raises(EdgepackError, match="record bytecode.pkl is not one the file was built with"):
        integrity.verify_ptl(built, more)


def test_files_without_digests_are_read_and_say_so(built, tmp_path):
    """Files built before the digests existed still load; inspect says they were not verified."""
    manifest = read_manifest(built)
    del manifest["integrity"]
    assert integrity.verify_ptl(built, manifest)["status"] == "not recorded"
    assert "not recorded" in integrity.describe(integrity.verify_ptl(built, manifest))


def test_backported_build_verifies(tiny_ckpt, tmp_path):
    """--bytecode-version backports the candidate; the digests are of the records as written."""
    out = tmp_path / "v6.ptl"
    build(str(tiny_ckpt), BuildOptions(output=str(out), optimize="none", bytecode_version=6), report=lambda m: None)
    assert integrity.verify_ptl(out, read_manifest(out))["status"] == "verified"


def test_masked_pte_digest_ignores_only_the_manifest_string():
    body = b"\x00\x01head" + b"{\"a\": 1}    " + b"tail\xff"
    same = b"\x00\x01head" + b"{\"a\": 22}   " + b"tail\xff"
    assert integrity.pte_masked_digest(body, '{"a": 1}    ') == integrity.pte_masked_digest(same, '{"a": 22}   ')
    flipped = b"\x00\x01heae" + b"{\"a\": 1}    " + b"tail\xff"
    assert integrity.pte_masked_digest(flipped, '{"a": 1}    ') != integrity.pte_masked_digest(body, '{"a": 1}    ')
    with pytest.raises(ValueError):
        integrity.pte_masked_digest(body + b"{\"a\": 1}    ", '{"a": 1}    ')  # twice: ambiguous
    section = {"integrity": integrity.pte_section(integrity.pte_masked_digest(body, '{"a": 1}    '))}
    assert integrity.verify_pte("x.pte", section, '{"a": 1}    ', body)["status"] == "verified"
    with pytest.raises(integrity.DamagedFile, match="the file is damaged"):
        integrity.verify_pte("x.pte", section, '{"a": 1}    ', flipped)


def test_manifest_json_is_still_one_document(built):
    json.loads(zipfile.ZipFile(built).read("archive/extra/edgepack.json"))


def _mark_deflated(path, target: pathlib.Path, name_suffix: str) -> None:
    """Copy `path`, with the central directory saying the record ending in `name_suffix` is
    deflate-compressed (one bit of the method field: 0 -> 8). Its stored bytes then fail to
    inflate (zlib.error), as in the fuzz campaign's case 2593."""
    import struct

    data = bytearray(pathlib.Path(path).read_bytes())
    pos = data.find(b"PK\x01\x02")
    while pos != -1:
        name_len = struct.unpack("<H", data[pos + 28:pos + 30])[0]
        if bytes(data[pos + 46:pos + 46 + name_len]).decode().endswith(name_suffix):
            assert data[pos + 10] == 0  # stored, as torch writes every record
            data[pos + 10] = 8
            target.write_bytes(bytes(data))
            return
        pos = data.find(b"PK\x01\x02", pos + 4)
    raise AssertionError(f"no record ending in {name_suffix}")


@pytest.mark.parametrize("record", ["data.pkl", "bytecode.pkl"])
def test_record_that_fails_to_inflate_is_damage_not_a_crash(built, image, cli, tmp_path, record):
    import zipfile
    import zlib

    bad = tmp_path / "bad.ptl"
    _mark_deflated(built, bad, record)
    with pytest.raises(zlib.error):  # what the readers see: not a BadZipFile
        with zipfile.ZipFile(bad) as zf:
            zf.read(next(n for n in zf.namelist() if n.endswith(record)))
    for args in (["inspect", bad], ["predict", bad, image], ["check", bad, "--python", sys.executable],
                 ["bench", bad, "--runs", "1"]):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.stderr)
        assert str(bad) in one_line_error(result)
    if record == "bytecode.pkl":  # the archive readers themselves, beneath the digest check
        from edgepack.inspect import operator_table

        with pytest.raises(EdgepackError, match="bad.ptl: "):
            operator_table(bad)
