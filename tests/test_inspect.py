"""`edgepack inspect`, `--ops-yaml`, bytecode versions and backporting."""
from __future__ import annotations

import shutil
import zipfile

import pytest
import torch
from torch.jit.mobile import _export_operator_list, _get_model_bytecode_version, _load_for_lite_interpreter

from edgepack import BuildOptions, build
from edgepack.compat import (MIN_BACKPORT_VERSION, RUNTIME_MAX_BYTECODE, backport_in_place, bytecode_version,
                             max_bytecode_for_runtime)
from edgepack.errors import EdgepackError
from edgepack.inspect import describe, format_description, ops_yaml_text, root_operators, write_ops_yaml
from edgepack.manifest import read_manifest
from edgepack.validate import compare, load_lite, run_all, synthetic_images
from conftest import json_out, one_line_error

pytestmark = pytest.mark.fallback


def _quiet(msg):
    pass


@pytest.fixture(scope="module")
def built(tiny_ckpt, tmp_path_factory):
    """One unoptimised build (fast: one optimisation level, no fallbacks)."""
    out = tmp_path_factory.mktemp("inspect") / "tiny.ptl"
    build(str(tiny_ckpt), BuildOptions(output=str(out), optimize="none"), report=_quiet)
    return out


def _parse_ops_yaml(text: str) -> list:
    try:
        import yaml
    except ImportError:  # the format is simple enough to read by hand
        return [line[2:].strip().strip('"') for line in text.splitlines() if line.startswith("- ")]
    return yaml.safe_load(text)


def test_inspect_json_is_one_document(cli, built):
    res = cli("inspect", built, "--json", expect=0)
    info = json_out(res)  # the whole stdout is one JSON document
    assert info["bytecode_version"] == _get_model_bytecode_version(str(built)) == bytecode_version(built)
    assert info["size_bytes"] == built.stat().st_size
    assert 0 < info["parameter_bytes"] <= info["size_bytes"]
    assert info["manifest"] == read_manifest(built)
    assert info["extra_files"] == ["edgepack.json"]
    assert info["xnnpack_prepacked"] is False and info["quantized_ops"] is False
    assert info["runtimes"]["2.1"] is True
    names = [op["name"] for op in info["operators"]]
    assert names == sorted(names)
    # Same root operators as torch's own exporter; counts are call sites in the bytecode.
    assert set(names) == set(_export_operator_list(_load_for_lite_interpreter(str(built))))
    assert all(isinstance(op["count"], int) and op["count"] >= 1 for op in info["operators"])
    counts = {op["name"]: op["count"] for op in info["operators"]}
    assert counts.get("aten::conv2d", 0) + counts.get("aten::_convolution", 0) >= 10  # resnet10t
    assert info["num_operators"] == len(names)


def test_inspect_human_output(cli, built):
    res = cli("inspect", built, expect=0)
    text = res.stdout
    assert f"version {_get_model_bytecode_version(str(built))}" in text
    assert "a, b, c, d" in text
    assert "conv" in text and "root operators" in text
    assert "optimizer       none" in text
    assert res.stderr == ""


def test_describe_plain_lite_file_without_manifest(tmp_path):
    path = tmp_path / "plain.ptl"
    torch.jit.script(torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU()))._save_for_lite_interpreter(str(path))
    info = describe(path)
    assert info["manifest"] is None and info["extra_files"] == []
    assert {"aten::linear", "aten::relu"} <= {op["name"] for op in info["operators"]}
    assert "manifest        none" in format_description(info)


def test_full_jit_file_explains_the_fix(cli, tmp_path):
    path = tmp_path / "full.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    res = cli("inspect", path, expect=2)
    line = one_line_error(res)
    assert "full-JIT" in line and "_save_for_lite_interpreter" in line and "edgepack build" in line


def _bad_files(tmp_path, built):
    truncated = tmp_path / "truncated.ptl"
    truncated.write_bytes(built.read_bytes()[: built.stat().st_size // 2])
    junk_bytecode = tmp_path / "junk_bytecode.ptl"
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(junk_bytecode, "w") as dst:
        for info in src.infolist():
            data = b"\x80\x02not a pickle" if info.filename.endswith("/bytecode.pkl") else src.read(info)
            dst.writestr(info.filename, data)
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("hello.txt", "hi")
    (tmp_path / "empty.ptl").write_bytes(b"")
    (tmp_path / "text.ptl").write_text("this is not a model\n")
    (tmp_path / "adir.ptl").mkdir()
    return {
        "truncated": (truncated, "not a valid zip"),
        "junk_bytecode": (junk_bytecode, "bytecode"),
        "other_zip": (other_zip, "without TorchScript bytecode"),
        "empty": (tmp_path / "empty.ptl", "empty"),
        "text": (tmp_path / "text.ptl", "not a TorchScript"),
        "directory": (tmp_path / "adir.ptl", "directory"),
        "missing": (tmp_path / "missing.ptl", "no such file"),
    }


@pytest.mark.parametrize("kind", ["truncated", "junk_bytecode", "other_zip", "empty", "text", "directory", "missing"])
def test_bad_files_exit_2_with_one_line(cli, built, tmp_path, kind):
    path, words = _bad_files(tmp_path, built)[kind]
    res = cli("inspect", path, expect=2)
    assert words in one_line_error(res)
    assert res.stdout == ""
    res = cli("inspect", path, "--json", expect=2)  # one JSON document: the error
    assert json_out(res) == {"error": one_line_error(res)[len("edgepack: error: "):], "exit_code": 2}
    assert words in json_out(res)["error"]


def test_write_ops_yaml(built, tmp_path):
    target = tmp_path / "ops.yaml"
    ops = write_ops_yaml(built, target)
    text = target.read_text()
    assert _parse_ops_yaml(text) == ops == root_operators(built)
    assert ops == sorted(set(_export_operator_list(_load_for_lite_interpreter(str(built)))))
    assert "- aten::softmax.int\n" in text
    assert all(line.startswith(("#", "- ")) for line in text.splitlines())
    assert ops_yaml_text(["odd op name"]).splitlines()[-1] == '- "odd op name"'
    with pytest.raises(EdgepackError, match="cannot write"):
        write_ops_yaml(built, tmp_path / "missing" / "ops.yaml")


def test_build_backported_with_ops_yaml(cli, tiny_ckpt, built, tmp_path):
    """`--bytecode-version 5` writes a v5 file that validates and gives the same outputs; the
    operator list comes from the file as written (older bytecode calls more operators)."""
    out, ops_file = tmp_path / "v5.ptl", tmp_path / "ops.yaml"
    res = cli("build", tiny_ckpt, "-o", out, "--no-optimize", "--bytecode-version", "5", "--ops-yaml", ops_file,
              "--json", expect=0)
    report = json_out(res)
    assert _get_model_bytecode_version(str(out)) == 5
    assert report["validation"]["passed"] is True
    assert read_manifest(out)["bytecode_version"] == 5
    ops = _parse_ops_yaml(ops_file.read_text())
    assert ops == sorted(set(_export_operator_list(_load_for_lite_interpreter(str(out)))))
    assert "aten::softmax.int" in ops
    info = json_out(cli("inspect", out, "--json", expect=0))
    assert info["bytecode_version"] == 5 and info["runtimes"]["1.9"] is True
    assert info["integrity"]["status"] == "verified"  # digests taken after the backport
    # Backported files hold every tensor twice; inspect counts the parameters once.
    assert info["parameter_bytes"] == describe(built)["parameter_bytes"]
    images = synthetic_images(4)
    for a, b in zip(run_all(load_lite(built), images), run_all(load_lite(out), images)):
        assert torch.equal(a, b)


@pytest.mark.parametrize("version", [7, 6, MIN_BACKPORT_VERSION])
def test_backport_in_place_keeps_outputs_and_manifest(built, tmp_path, version):
    path = tmp_path / "b.ptl"
    shutil.copy(built, path)
    backport_in_place(path, version)
    assert _get_model_bytecode_version(str(path)) == version
    assert bytecode_version(path) == version  # edgepack's own reader, which skips loading the file
    assert read_manifest(path) == read_manifest(built)
    images = synthetic_images(3)
    for a, b in zip(run_all(load_lite(built), images), run_all(load_lite(path), images)):
        assert torch.equal(a, b)
    # A backport after the build changes the records the manifest's digests cover: inspect refuses
    # the result as damaged (a build with --bytecode-version backports before the digests are taken).
    with pytest.raises(EdgepackError, match="the file is damaged: record "):
        describe(path)


def test_compare_reports_differences():
    ref = [torch.tensor([[0.1, 0.7, 0.2]]), torch.tensor([[0.5, 0.3, 0.2]])]
    same = compare(ref, [r.clone() for r in ref])
    assert (same.max_abs_err, same.max_rel_err, same.top1_agreement) == (0.0, 0.0, 1.0)
    assert same.min_cosine == pytest.approx(1.0)
    off = compare(ref, [torch.tensor([[0.1, 0.2, 0.7]]), torch.tensor([[0.5, 0.3, 0.2]])])
    assert off.max_abs_err == pytest.approx(0.5) and off.max_rel_err == pytest.approx(0.5 / 0.7)
    assert off.top1_agreement == 0.5 and off.min_cosine < 0.6
    broken = compare(ref, [torch.tensor([[float("nan"), 0.0, 0.0]]), ref[1]])
    assert broken.max_abs_err == float("inf") and broken.top1_agreement == 0.5


def test_backport_limits(built, tmp_path):
    path = tmp_path / "b.ptl"
    shutil.copy(built, path)
    before = path.read_bytes()
    backport_in_place(path, 99)  # newer than the file: nothing to do
    assert path.read_bytes() == before
    with pytest.raises(EdgepackError, match="down to 4"):
        backport_in_place(path, 3)
    assert path.read_bytes() == before


def test_runtime_table():
    assert max_bytecode_for_runtime("2.1") == 9
    assert max_bytecode_for_runtime("2.1.0") == 9
    with pytest.raises(EdgepackError, match="unknown lite runtime"):
        max_bytecode_for_runtime("0.4")
    assert list(RUNTIME_MAX_BYTECODE.values()) == sorted(RUNTIME_MAX_BYTECODE.values())


def test_default_builds_load_in_the_last_android_runtime(built):
    """The version this torch writes must be one pytorch_android_lite 2.1.0 reads, or every
    default build would need a backport: guards torch upgrades."""
    assert 4 <= _get_model_bytecode_version(str(built)) <= RUNTIME_MAX_BYTECODE["2.1"]


def test_runtime_option_records_the_real_version(cli, tiny_ckpt, tmp_path):
    out = tmp_path / "rt.ptl"
    report = json_out(cli("build", tiny_ckpt, "-o", out, "--no-optimize", "--runtime", "2.1", "--json", expect=0))
    actual = _get_model_bytecode_version(str(out))
    assert actual <= RUNTIME_MAX_BYTECODE["2.1"]
    assert report["bytecode_version"] == actual
    assert read_manifest(out)["bytecode_version"] == actual


def test_unknown_runtime_is_a_usage_error(cli, tiny_ckpt, tmp_path):
    res = cli("build", tiny_ckpt, "-o", tmp_path / "x.ptl", "--runtime", "0.4", expect=2)
    assert "unknown lite runtime" in one_line_error(res)
