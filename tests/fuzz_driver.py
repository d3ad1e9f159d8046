"""Mutation fuzzing of `inspect`, `build` and `predict`, run in its own process by test_fuzz.py.

A separate process because a corrupt file could crash the interpreter (a segfault in a loader),
which must show up as a failed test, not as a dead test runner. Each case mutates a valid file
(bit flips, truncation, inserted or overwritten byte runs, zeroed ranges) with hypothesis, runs the
command in-process through Click, and requires exit code 0, 1 or 2 with no uncaught exception.

    python tests/fuzz_driver.py KIND VALID_FILE [EXTRA_ARG] --cases N --workdir DIR
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import traceback

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgepack.cli import main as cli_main


def mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for kind, pos, value, length in ops:
        if not buf:
            break
        pos %= len(buf)
        if kind == "flip":
            buf[pos] ^= 1 << (value % 8)
        elif kind == "truncate":
            del buf[pos:]
        elif kind == "insert":
            buf[pos:pos] = bytes([value]) * length
        elif kind == "overwrite":
            buf[pos:pos + length] = bytes([value]) * min(length, len(buf) - pos)
        elif kind == "zero":
            buf[pos:pos + length] = bytes(min(length, len(buf) - pos))
    return bytes(buf)


OPS = st.lists(st.tuples(st.sampled_from(["flip", "truncate", "insert", "overwrite", "zero"]),
                         st.integers(0, 1 << 30), st.integers(0, 255), st.integers(1, 64)), min_size=1, max_size=4)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["inspect", "build", "predict"])
    parser.add_argument("valid")
    parser.add_argument("extra", nargs="?")
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    valid = pathlib.Path(args.valid).read_bytes()
    work = pathlib.Path(args.workdir)
    runner = CliRunner()
    stats = {"cases": 0, "exit_codes": {}, "failures": []}
    suffix = pathlib.Path(args.valid).suffix

    @settings(max_examples=args.cases, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(OPS)
    def case(ops):
        target = work / f"mutant{suffix}"
        target.write_bytes(mutate(valid, ops))
        out = work / "out.ptl"
        out.unlink(missing_ok=True)
        if args.kind == "inspect":
            argv = ["inspect", str(target), "--json"]
        elif args.kind == "build":
            argv = ["build", str(target), "-o", str(out), "--force"]
        else:  # predict: mutate the image (extra = model) or the model (extra = image)
            argv = ["predict", args.extra, str(target)] if suffix != ".ptl" else ["predict", str(target), args.extra]
        result = runner.invoke(cli_main, argv, catch_exceptions=True)
        stats["cases"] += 1
        code = result.exit_code
        stats["exit_codes"][str(code)] = stats["exit_codes"].get(str(code), 0) + 1
        uncaught = result.exception is not None and not isinstance(result.exception, SystemExit)
        if uncaught or code not in (0, 1, 2) or "Traceback" in (result.stderr or ""):
            detail = "".join(traceback.format_exception(result.exception)) if uncaught else result.stderr
            stats["failures"].append({"ops": ops, "exit": code, "detail": detail[-1500:]})
        if code != 0:
            assert not out.exists() or args.kind != "build", "failed build left an output file"

    case()
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
