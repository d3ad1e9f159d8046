"""Bytecode versions and lite-runtime compatibility.

The mobile libraries are frozen (the last `pytorch_android_lite` is 2.1.0) while desktop torch
keeps writing newer bytecode. `RUNTIME_MAX_BYTECODE` maps a lite-runtime release to the highest
bytecode version its loader accepts (`caffe2::serialize::kMaxSupportedBytecodeVersion` in
`caffe2/serialize/versions.h` of that release).
"""
from __future__ import annotations

import os
import pathlib

from .errors import EdgepackError

# release -> kMaxSupportedBytecodeVersion (caffe2/serialize/versions.h at that tag)
RUNTIME_MAX_BYTECODE = {
    "1.9": 6,
    "1.10": 7,
    "1.11": 8,
    "1.12": 8,
    "1.13": 8,
    "2.0": 9,
    "2.1": 9,
}
MIN_BACKPORT_VERSION = 4


def bytecode_version(path) -> int:
    from torch.jit.mobile import _get_model_bytecode_version

    return int(_get_model_bytecode_version(str(path)))


def max_bytecode_for_runtime(runtime: str) -> int:
    key = ".".join(str(runtime).split(".")[:2])
    if key not in RUNTIME_MAX_BYTECODE:
        known = ", ".join(RUNTIME_MAX_BYTECODE)
        raise EdgepackError(f"unknown lite runtime '{runtime}' (known: {known})")
    return RUNTIME_MAX_BYTECODE[key]


def backport_in_place(path: pathlib.Path, version: int) -> None:
    """Rewrite `path` at bytecode `version` (no-op when it already is at or below it)."""
    from torch.jit.mobile import _backport_for_mobile

    current = bytecode_version(path)
    if version >= current:
        return
    if version < MIN_BACKPORT_VERSION:
        raise EdgepackError(f"--bytecode-version {version}: torch can backport down to {MIN_BACKPORT_VERSION} only")
    tmp = path.with_name(path.name + ".bp")
    try:
        ok = _backport_for_mobile(str(path), str(tmp), version)
        if not ok or not tmp.exists():
            raise EdgepackError(f"cannot backport this model to bytecode version {version} (operators or types it needs did not exist then)")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


import click  # noqa: E402


@click.command()
@click.argument("model", type=click.Path())
@click.option("--runtime", default="2.1", show_default=True, help="Lite runtime release to check against.")
@click.option("--json", "as_json", is_flag=True)
def check_command(model, runtime, as_json):
    """Run MODEL.ptl in an old lite runtime and compare with the outputs recorded at build time."""
    raise click.ClickException("not implemented yet")
