"""What `pip install .` installs carries every file the commands read at run time (#14 row 15).

The full check, a built wheel installed into a clean environment running `build --runtime 2.1`
and `check`, is `make test-wheel` (scripts/wheel_smoke.sh); this is its fast, offline part: the
package as setuptools lays it out for a wheel, from this checkout's pyproject.toml.
"""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

from conftest import ROOT

# Files the commands open at run time, relative to the package folder, and who reads them.
RUNTIME_FILES = {
    "data/ops-2.1.json": "edgepack.runtimes.runtime_operators (build --runtime, inspect, check)",
    "data/run_in_old_runtime.py": "edgepack.compat.RUNNER (check, run inside torch 2.1)",
    "bench.py": "edgepack.bench.run_child (bench loads it by path in a child process)",
}


def test_runtime_files_are_where_the_code_looks():
    import edgepack
    from edgepack import bench, compat, runtimes

    package = pathlib.Path(edgepack.__file__).parent
    assert compat.RUNNER == package / "data" / "run_in_old_runtime.py"
    assert runtimes.operator_list_path("2.1") == package / "data" / "ops-2.1.json"
    assert pathlib.Path(bench.__file__).parent == package
    for name in RUNTIME_FILES:
        assert (package / name).is_file(), name


def test_wheel_layout_has_the_runtime_files(tmp_path):
    """setuptools' build_py is the step that puts modules and package data into a wheel. It runs
    on a copy of what a clean checkout has (no egg-info left by an earlier build, whose file list
    setuptools would reuse), and leaves nothing behind in the checkout."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "edgepack", src / "edgepack", ignore=shutil.ignore_patterns("__pycache__"))
    build_lib = tmp_path / "lib"
    code = ("import sys; from setuptools import setup; "
            f"sys.argv = ['setup.py', '-q', 'build_py', '--build-lib', {str(build_lib)!r}]; setup()")
    proc = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    installed = build_lib / "edgepack"
    for name, reader in RUNTIME_FILES.items():
        assert (installed / name).is_file(), f"{name} (read by {reader}) is not in the wheel"
    assert (installed / "data" / "ops-2.1.json").read_bytes() == (ROOT / "edgepack" / "data" / "ops-2.1.json").read_bytes()
