"""Lite-runtime releases: which bytecode versions they read and which operators they have.

A leaf module (it imports nothing from edgepack but `errors`): `inspect` reports against this
table and `compat` backports and runs files with it, without either importing the other.

`RUNTIME_MAX_BYTECODE` maps a lite-runtime release to the highest bytecode version its loader
accepts (`caffe2::serialize::kMaxSupportedBytecodeVersion` in `caffe2/serialize/versions.h` of
that release); see `edgepack.compat` and docs/compat.md for which rows were measured.

The operator lists (`ops-<release>.json`, every operator schema that torch registers, name ->
number of schema arguments) are package data in `edgepack/data/`, so an installed wheel has them;
`edgepack/data/run_in_old_runtime.py --dump-ops` writes them inside the old torch.
"""
from __future__ import annotations

import json
import pathlib
from typing import Optional

from .errors import EdgepackError

# release -> kMaxSupportedBytecodeVersion of its lite interpreter ("2.1" measured, the others
# from the bytecode history in versions.h).
RUNTIME_MAX_BYTECODE = {
    "1.9": 6,
    "1.10": 7,
    "1.11": 8,
    "1.12": 8,
    "1.13": 8,
    "2.0": 9,
    "2.1": 9,
}
VERIFIED_RUNTIMES = ("2.1",)  # rows measured by loading files in that torch
MIN_SUPPORTED_BYTECODE = 4  # kMinSupportedBytecodeVersion: every release since 1.9 reads 4 and up
MIN_BACKPORT_VERSION = 4
OPERATOR_LIST_RUNTIMES = ("2.1",)  # releases with an ops-<release>.json in DATA_DIR
DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"


def runtime_key(runtime: str) -> str:
    return ".".join(str(runtime).split(".")[:2])


def max_bytecode_for_runtime(runtime: str) -> int:
    key = runtime_key(runtime)
    if key not in RUNTIME_MAX_BYTECODE:
        known = ", ".join(RUNTIME_MAX_BYTECODE)
        raise EdgepackError(f"unknown lite runtime '{runtime}' (known: {known})")
    return RUNTIME_MAX_BYTECODE[key]


def operator_list_path(runtime: str) -> pathlib.Path:
    return DATA_DIR / f"ops-{runtime_key(runtime)}.json"


def runtime_operators(runtime: str = "2.1") -> Optional[dict]:
    """{`aten::name.overload`: number of schema arguments} of an old torch, or None when unknown.

    Written in that torch by `edgepack/data/run_in_old_runtime.py --dump-ops` (every operator
    schema it registers; the Android lite build of the same release registers the same schemas,
    bar backend-specific ones that a phone would not run anyway)."""
    path = operator_list_path(runtime)
    if not path.exists():
        return None
    return json.loads(path.read_text())["ops"]
