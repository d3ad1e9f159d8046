"""Where a build may write (#14 rows 1 and 7): only regular files, and without --force never over a
file that appeared while the build ran (exclusive, atomic publish; one winner of a race)."""
from __future__ import annotations

import os
import pathlib
import socket
import stat
import subprocess
import time

import pytest
import torch

from edgepack import package
from edgepack.errors import EdgepackError
from edgepack.integrity import verify_ptl
from edgepack.manifest import read_manifest
from conftest import one_line_error, process_command, process_error

pytestmark = pytest.mark.fallback


def _leftovers(folder: pathlib.Path, name: str):
    return [p.name for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp")]


# --- row 1: targets that are not regular files ----------------------------------------------------

def _fifo(path):
    os.mkfifo(path)
    return path


def _socket(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    return path


def _link_to_fifo(path):
    target = _fifo(path.with_name("real-fifo"))
    path.symlink_to(target)
    return path


@pytest.mark.parametrize("make, kind", [(_fifo, "a FIFO (named pipe)"), (_socket, "a socket"),
                                        (_link_to_fifo, "a FIFO (named pipe) (through a symlink)")],
                         ids=["fifo", "socket", "symlink-to-fifo"])
@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_non_regular_output_is_refused(cli, tiny_ckpt, tmp_path, make, kind, force):
    out = make(tmp_path / "m.ptl")
    before = os.lstat(out)
    res = cli("build", tiny_ckpt, "-o", out, *(["--force"] if force else []), expect=2)
    line = one_line_error(res)
    assert f"is {kind}, not a regular file" in line, line
    after = os.lstat(out)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)  # nothing replaced
    assert _leftovers(tmp_path, out.name) == []


def test_dev_null_is_never_replaced(cli, tiny_ckpt):
    before = os.stat("/dev/null")
    res = cli("build", tiny_ckpt, "-o", "/dev/null", "--force", expect=2)
    assert "/dev/null: is a device, not a regular file" in one_line_error(res)
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert _leftovers(pathlib.Path("/dev"), "null") == []


def test_symlink_to_a_regular_file_is_still_a_file(tiny_ckpt, tmp_path):
    real = tmp_path / "real.ptl"
    real.write_bytes(b"old")
    link = tmp_path / "link.ptl"
    link.symlink_to(real)
    package.check_output_target(link)  # allowed (the existing-file rules apply)
    with pytest.raises(EdgepackError, match="already exists"):
        package._output_path(str(tiny_ckpt), package.BuildOptions(output=str(link)))


# --- row 7: exclusive publish ---------------------------------------------------------------------

def _same(path):
    return [torch.zeros(1)]


def test_publish_is_exclusive_without_force(tmp_path):
    out, tmp = tmp_path / "m.ptl", tmp_path / ".m.ptl.1.final.tmp"
    tmp.write_bytes(b"new")
    out.write_bytes(b"appeared")
    with pytest.raises(EdgepackError, match="appeared while this build ran"):
        package.publish(tmp, out, _same, [torch.zeros(1)])
    assert out.read_bytes() == b"appeared"
    package.publish(tmp, out, _same, [torch.zeros(1)], force=True)
    assert out.read_bytes() == b"new" and not tmp.exists()
    tmp.write_bytes(b"newer")
    (tmp_path / "free.ptl").exists()
    package.publish(tmp, tmp_path / "free.ptl", _same, [torch.zeros(1)])
    assert (tmp_path / "free.ptl").read_bytes() == b"newer" and not tmp.exists()


def test_publish_refuses_a_fifo_that_appeared_even_with_force(tmp_path):
    out, tmp = tmp_path / "m.ptl", tmp_path / ".m.ptl.1.final.tmp"
    tmp.write_bytes(b"new")
    os.mkfifo(out)
    with pytest.raises(EdgepackError, match="a FIFO"):
        package.publish(tmp, out, _same, [torch.zeros(1)], force=True)
    assert stat.S_ISFIFO(os.lstat(out).st_mode)


def _appear_during_build(monkeypatch, out, content=b"written by someone else"):
    real = package._write_final

    def write_final(candidate, path, manifest):
        real(candidate, path, manifest)
        out.write_bytes(content)

    monkeypatch.setattr(package, "_write_final", write_final)


def test_file_that_appears_during_the_build_is_not_replaced(cli, tiny_ckpt, tmp_path, monkeypatch):
    out = tmp_path / "m.ptl"
    _appear_during_build(monkeypatch, out)
    res = cli("build", tiny_ckpt, "-o", out, "--no-optimize", expect=2)
    assert "appeared while this build ran" in one_line_error(res)
    assert out.read_bytes() == b"written by someone else"
    assert _leftovers(tmp_path, out.name) == []


def test_force_replaces_a_file_that_appears_during_the_build(cli, tiny_ckpt, tmp_path, monkeypatch):
    out = tmp_path / "m.ptl"
    _appear_during_build(monkeypatch, out)
    cli("build", tiny_ckpt, "-o", out, "--no-optimize", "--force", expect=0)
    assert read_manifest(out)["schema"] == 1
    assert _leftovers(tmp_path, out.name) == []


HOLD_AT_PUBLISH = """
import os, pathlib, time
import edgepack.package as _p
_real = _p.publish
def _held(*args, **kwargs):
    sync = pathlib.Path(os.environ["EDGEPACK_TEST_SYNC"])
    (sync / f"ready.{os.getpid()}").touch()
    while not (sync / "go").exists():
        time.sleep(0.02)
    return _real(*args, **kwargs)
_p.publish = _held
"""


def test_two_concurrent_builds_to_one_new_path_exactly_one_wins(tiny_ckpt, tmp_path):
    """Both builds are held just before publishing until both got there, then released at once."""
    out, sync = tmp_path / "m.ptl", tmp_path / "sync"
    sync.mkdir()
    procs = []
    for _ in range(2):
        cmd, env = process_command("build", tiny_ckpt, "-o", out, "--no-optimize", hook=HOLD_AT_PUBLISH)
        env = dict(env, EDGEPACK_TEST_SYNC=str(sync), OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.time() + 600
    while len(list(sync.glob("ready.*"))) < 2:
        assert time.time() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.1)
    (sync / "go").touch()
    results = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    assert sorted(r.returncode for r in results) == [0, 2], [(r.returncode, r.stderr[-500:]) for r in results]
    loser = next(r for r in results if r.returncode == 2)
    assert "appeared while this build ran" in process_error(loser)
    assert verify_ptl(out, read_manifest(out))["status"] == "verified"
    assert _leftovers(tmp_path, out.name) == []
