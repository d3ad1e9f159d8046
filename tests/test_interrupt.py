"""A build killed at any moment leaves the previous output intact and no temporary files behind
once the next build has run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from edgepack.manifest import read_manifest



def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _start(ckpt, out):
    return subprocess.Popen([sys.executable, "-m", "edgepack", "build", str(ckpt), "-o", str(out), "--force"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, proc, timeout=120.0):
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if predicate():
            return True
        time.sleep(0.005)
    return False


@pytest.mark.parametrize("sig,moment", [(signal.SIGINT, "loading"), (signal.SIGINT, "candidate"),
                                        (signal.SIGKILL, "candidate"), (signal.SIGKILL, "final")])
def test_killed_build_keeps_previous_file(tiny_ckpt, tmp_path, sig, moment):
    out = tmp_path / "model.ptl"
    out.write_bytes(b"previous release")
    proc = _start(tiny_ckpt, out)
    if moment == "loading":
        time.sleep(1.0)
    else:
        _wait_for(lambda: any(moment in name for name in _temps(tmp_path)), proc)
    if proc.poll() is None:
        proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert "Traceback" not in stderr
    if proc.returncode == 0:  # finished before the signal: a complete, valid file
        assert read_manifest(out)["validation"]["passed"]
    else:
        assert out.read_bytes() == b"previous release"
        if sig == signal.SIGINT:
            assert _temps(tmp_path) == []  # cleaned up on the way out
    # The next build removes what a SIGKILLed one left and replaces the file atomically.
    done = subprocess.run([sys.executable, "-m", "edgepack", "build", str(tiny_ckpt), "-o", str(out), "--force"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _temps(tmp_path) == []
    assert read_manifest(out)["schema"] == 1
