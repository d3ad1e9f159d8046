"""The command line's contract, whatever goes wrong: one error line, the documented exit code, and
with --json exactly one JSON document on stdout (DESIGN.md, "Command line"; README, "Exit codes").

Most cases run in-process through Click's runner, which goes through the same
`EdgepackGroup.main` as the console script; the `*_process` tests run the real entry point.
"""
from __future__ import annotations

import json
import os

import pytest
from PIL import Image

from edgepack import BuildOptions, build
from conftest import json_out, one_line_error, process_error, random_image, run_process

# Makes every optimisation level of a build fail validation (the written file's outputs are off
# by 1.0), without touching the options under test.
BREAK_VALIDATION = """
import edgepack.package as _p
_real = _p._run_lite
_p._run_lite = lambda path, inputs: [o + 1.0 for o in _real(path, inputs)]
"""
CRASH_INSPECT = """
import edgepack.inspect as _i
def _boom(path):
    raise RuntimeError("simulated bug")
_i.describe = _boom
"""


@pytest.fixture(scope="module")
def model_file(tiny_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "m.ptl"
    build(str(tiny_ckpt), BuildOptions(output=str(out), optimize="none"), report=lambda m: None)
    return out


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli-img") / "photo.png"
    Image.fromarray(random_image(2, (80, 96)).numpy()).save(path)
    return path


def _only_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgepack: error: "), stderr
    return lines[0]


# --- usage errors (#14 row 13) ------------------------------------------------------------------

@pytest.mark.parametrize("args,words", [
    (["build"], "Missing argument 'SOURCE'"),
    (["build", "x.ckpt", "--crop-pct", "5"], "--crop-pct"),
    (["build", "x.ckpt", "--quantize=sometimes"], "--quantize"),
    (["bogus"], "No such command 'bogus'"),
    (["inspect", "m.ptl", "--nope"], "--nope"),
    (["bench", "m.ptl", "--json", "--csv"], "--json and --csv exclude each other"),
    (["predict", "m.ptl"], "Missing argument 'IMAGES...'"),
])
def test_usage_errors_are_one_line(cli, args, words):
    res = cli(*args, expect=2)
    line = _only_error_line(res.stderr)  # no "Usage:" / "Try ..." block: one line, exit 2
    assert words in line and "--help" in line
    if "--json" in args:
        assert json_out(res) == {"error": line[len("edgepack: error: "):], "exit_code": 2}
    else:
        assert res.stdout == ""


def test_usage_error_process():
    proc = run_process("build", "x.ckpt", "--crop-pct", "nan-ish")
    assert proc.returncode == 2
    assert "--crop-pct" in _only_error_line(proc.stderr)


def test_bare_command_prints_help_and_exits_0(cli):
    res = cli(expect=0)
    assert "build" in res.stdout and "predict" in res.stdout


# --- --json on every failure (#14 row 8) --------------------------------------------------------

def _error_doc(res_or_proc, code: int) -> dict:
    """stdout is exactly one JSON document, {"error", "exit_code"}, matching the exit status."""
    doc = json.loads(res_or_proc.stdout)  # raises unless the whole stdout is one document
    assert set(doc) == {"error", "exit_code"} and doc["exit_code"] == code
    return doc


@pytest.mark.parametrize("command", ["build", "predict", "inspect", "bench", "check"])
def test_json_on_input_errors(cli, tmp_path, command, image_file):
    missing = tmp_path / "missing.ptl"
    args = {
        "build": ["build", tmp_path / "missing.ckpt", "-o", tmp_path / "x.ptl"],
        "predict": ["predict", missing, image_file],
        "inspect": ["inspect", missing],
        "bench": ["bench", missing],
        "check": ["check", missing, "--python", tmp_path / "no-python"],
    }[command]
    res = cli(*args, "--json", expect=2)
    doc = _error_doc(res, 2)
    assert one_line_error(res) == f"edgepack: error: {doc['error']}"
    assert ("does not exist" if command == "check" else "no such file") in doc["error"]


def test_json_on_validation_failure(cli, tiny_ckpt, tmp_path, monkeypatch):
    import edgepack.package as package

    real = package._run_lite
    monkeypatch.setattr(package, "_run_lite", lambda path, inputs: [o + 1.0 for o in real(path, inputs)])
    res = cli("build", tiny_ckpt, "-o", tmp_path / "m.ptl", "--no-optimize", "--json", expect=1)
    assert "validation failed" in _error_doc(res, 1)["error"]
    assert not (tmp_path / "m.ptl").exists()


def test_internal_error_exits_3_with_traceback(cli, model_file, monkeypatch):
    import edgepack.inspect as inspect

    def boom(path):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(inspect, "describe", boom)
    res = cli("inspect", model_file, expect=3)
    assert "Traceback" in res.stderr and "RuntimeError: simulated bug" in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("edgepack: error: internal error") and "simulated bug" in last
    assert res.stdout == ""
    res = cli("inspect", model_file, "--json", expect=3)
    assert "internal error" in _error_doc(res, 3)["error"]


def test_json_through_a_real_process(tiny_ckpt, model_file, tmp_path):
    """stdout of the real entry point holds one JSON document, whatever the exit code; the
    progress and the error line go to stderr."""
    ok = run_process("inspect", model_file, "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["manifest"]["labels"] == ["a", "b", "c", "d"]
    usage = run_process("inspect", model_file, "--json", "--nope")
    assert usage.returncode == 2 and "--nope" in _error_doc(usage, 2)["error"]
    missing = run_process("build", tmp_path / "missing.ckpt", "--json")
    assert missing.returncode == 2 and "no such file" in _error_doc(missing, 2)["error"]
    failed = run_process("build", tiny_ckpt, "-o", tmp_path / "m.ptl", "--no-optimize", "--json",
                         hook=BREAK_VALIDATION)
    assert failed.returncode == 1 and "validation failed" in _error_doc(failed, 1)["error"]
    assert "building" in failed.stderr and process_error(failed)
    assert not (tmp_path / "m.ptl").exists()
    kept = run_process("build", tiny_ckpt, "-o", tmp_path / "m.ptl", "--no-optimize", "--json",
                       "--accept-mismatch", hook=BREAK_VALIDATION)
    assert kept.returncode == 1  # the build's own report, one document, validation marked failed
    assert json.loads(kept.stdout)["validation"]["passed"] is False
    crash = run_process("inspect", model_file, "--json", hook=CRASH_INSPECT)
    assert crash.returncode == 3 and "Traceback" in crash.stderr
    assert "internal error" in _error_doc(crash, 3)["error"]


# --- inputs that cannot be read (#14 row 6, FIFOs) ----------------------------------------------

def test_unreadable_inputs_are_input_errors(tiny_ckpt, model_file, image_file, tmp_path):
    """No read permission is an input error (exit 2, one line), not a PermissionError traceback;
    root is run without its power to read anything, so this holds for every user."""
    def locked(src, name):
        dst = tmp_path / name
        dst.write_bytes(src.read_bytes())
        dst.chmod(0)
        return dst

    ckpt, model, image = locked(tiny_ckpt, "c.ckpt"), locked(model_file, "m.ptl"), locked(image_file, "p.png")
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\nd\n")
    labels.chmod(0)
    for args, name in [(("build", ckpt, "-o", tmp_path / "o.ptl"), ckpt),
                       (("build", tiny_ckpt, "-o", tmp_path / "o.ptl", "--labels", labels), labels),
                       (("inspect", model), model),
                       (("predict", model_file, image), image)]:
        proc = run_process(*args, drop_file_access=True)
        assert proc.returncode == 2, proc.stderr
        line = process_error(proc)
        assert str(name) in line and ("permission denied" in line or "is not readable" in line)  # ours or Click's
    assert not (tmp_path / "o.ptl").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_are_refused_not_waited_on(tiny_ckpt, model_file, tmp_path, cli):
    """Opening a FIFO blocks until a writer comes: every input path refuses non-regular files
    before opening them (a timeout here means a hang)."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    proc = run_process("predict", model_file, fifo, timeout=120)
    assert proc.returncode == 2 and "is a FIFO" in process_error(proc)
    proc = run_process("build", tiny_ckpt, "-o", tmp_path / "o.ptl", "--labels", fifo, timeout=120)
    assert proc.returncode == 2 and "is a FIFO" in process_error(proc)
    ckpt_fifo = tmp_path / "pipe.ckpt"
    os.mkfifo(ckpt_fifo)
    assert "is a FIFO" in one_line_error(cli("build", ckpt_fifo, "-o", tmp_path / "o.ptl", expect=2))
    for suffix in (".ptl", ".pte"):  # the format is sniffed from a file's bytes: never from a FIFO's
        model_fifo = tmp_path / f"pipe{suffix}"
        os.mkfifo(model_fifo)
        for command in (["inspect", model_fifo], ["predict", model_fifo, fifo], ["bench", model_fifo]):
            proc = run_process(*command, timeout=120)
            assert proc.returncode == 2 and "is a FIFO" in process_error(proc), (command, proc.stderr)


def test_empty_output_name_is_refused(cli, tiny_ckpt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli("build", tiny_ckpt, "-o", "", expect=2)
    assert "-o/--output: empty file name" in one_line_error(res)
    assert list(tmp_path.iterdir()) == []  # not silently tiny.ptl
