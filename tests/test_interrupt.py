"""A build killed at any moment leaves the previous output intact and no temporary files behind
once the next build has run; Ctrl-C exits 130 with one line.

The build runs in a real process with a hook that holds it at the chosen moment (loading the
model, validating the candidate file, re-checking the final file) and says so through a marker
file, so the signal always lands inside that moment: the test cannot pass by the build finishing
first.
"""
from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from edgepack.manifest import read_manifest
from conftest import process_command, run_process

HOLD = """
import pathlib as _pl, re as _re, time as _time
import edgepack.package as _p
_marker, _moment = _pl.Path({marker!r}), {moment!r}

def _hold():
    _marker.write_text("holding")
    _time.sleep(600)

if _moment == "loading":
    def _load(*args, **kwargs):
        _hold()
    _p.load_source = _load
else:
    _real_run = _p._run_lite
    def _run(path, inputs):
        if _re.search(rf"\.{{_moment}}\d*\.tmp$", path.name):  # candidate files are numbered per level
            _hold()
        return _real_run(path, inputs)
    _p._run_lite = _run
"""


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _wait_for(path, proc, timeout=180.0) -> None:
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if path.exists():
            return
        time.sleep(0.01)
    _, stderr = proc.communicate(timeout=60) if proc.poll() is not None else ("", "still running")
    pytest.fail(f"the build never reached the held moment (exit {proc.returncode}): {stderr[-2000:]}")


@pytest.mark.parametrize("sig,moment", [(signal.SIGINT, "loading"), (signal.SIGINT, "candidate"),
                                        (signal.SIGINT, "final"), (signal.SIGKILL, "candidate"),
                                        (signal.SIGKILL, "final")])
def test_killed_build_keeps_previous_file(tiny_ckpt, tmp_path, sig, moment):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "model.ptl"
    out.write_bytes(b"previous release")
    marker = tmp_path / "holding"
    cmd, env = process_command("build", tiny_ckpt, "-o", out, "--force",
                               hook=HOLD.format(marker=str(marker), moment=moment))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(marker, proc)
        if moment != "loading":  # the signal lands while that temporary file exists
            assert any(re.search(rf"\.{moment}\d*\.tmp$", name) for name in _temps(folder)), _temps(folder)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "Traceback" not in stderr
    assert out.read_bytes() == b"previous release"
    assert stdout == ""
    if sig == signal.SIGINT:
        assert proc.returncode == 130, stderr  # not 1, which means "validation failed"
        assert stderr.strip().splitlines()[-1] == "edgepack: interrupted"
        assert _temps(folder) == []  # cleaned up on the way out
    else:
        assert proc.returncode == -signal.SIGKILL
    # The next build removes what a SIGKILLed one left and replaces the file atomically.
    done = run_process("build", tiny_ckpt, "-o", out, "--force")
    assert done.returncode == 0, done.stderr
    assert _temps(folder) == []
    assert read_manifest(out)["validation"]["passed"] is True


def test_interrupt_with_json_prints_an_error_document(tiny_ckpt, tmp_path):
    marker = tmp_path / "holding"
    cmd, env = process_command("build", tiny_ckpt, "-o", tmp_path / "m.ptl", "--json",
                               hook=HOLD.format(marker=str(marker), moment="loading"))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(marker, proc)
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert stdout.strip() == '{"error": "interrupted", "exit_code": 130}'
