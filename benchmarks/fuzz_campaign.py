"""Fuzz campaign (#14 item 6): every command against damaged and hostile inputs, with figures.

    python benchmarks/fuzz_campaign.py                      # the full campaign (~6,000 cases)
    python benchmarks/fuzz_campaign.py --scale 0.06 --no-image-pte   # a slice (CI runs one: tests/test_fuzz_campaign.py)

Setup builds small real artifacts from a tiny timm test network (`test_efficientnet`, 4 classes):
an image-input and a float-input `.ptl` and `.pte`, its checkpoint and two images. Then a seeded
list of cases is generated and run, each as a real command (`edgepack.cli.main` through Click, in
worker processes that the campaign restarts after a crash and kills after `--case-timeout`):

| category | what is mutated | commands |
|---|---|---|
| `model-bytes` | one to four byte flips inside one record of a `.ptl` (zip: weights, bytecode, code, manifest, other records, local headers, central directory) or a `.pte` (header, flatbuffer program, manifest string, segments: delegate blobs and weights), or a truncation | predict, inspect, bench, check |
| `manifest-type` | one manifest field replaced by a value of another JSON type (or the whole manifest) | predict, inspect, bench, check |
| `manifest-value` | one manifest field given another value of its type (class counts, labels, input kind and sides, activation, format, schema, ...) | predict, inspect, bench, check |
| `image` | bytes of a PNG/JPEG (flips, truncation, inserted and zeroed runs), and special files (a directory, a FIFO, an empty file, a missing one) | predict on a `.ptl` and a `.pte` |
| `checkpoint` | bytes of the Lightning checkpoint (same operators) | build |
| `options` | option values (numbers out of range, NaN, inf, huge, empty, text, unicode) | build, predict, inspect, bench, check |

Each case gets an outcome:

- `crash`: an exit code other than 0, 1, 2 (3 = internal error, signals), an uncaught
  exception, a traceback on stdout/stderr, or an error message of more than one line;
- `hang`: no exit within `--case-timeout` seconds (the worker is killed);
- `silent-wrong-answer`: a `model-bytes` case where `predict` exits 0 with different top-k
  classes or probabilities than the undamaged file gives for the same image (the file was damaged,
  the answer changed, and nothing said so). Detecting byte flips in weights needs the integrity
  digests of #14 item 2; the summary says whether this build has them (a probe flips one weight
  byte and looks for exit 2);
- `undetected-damage`: a `model-bytes` case where inspect/bench/check exit 0 on a damaged file
  (they produce no answer to compare), or predict gives the same answer as the original;
- `accepted-manifest-edit`: a manifest mutation (or a byte flip inside the manifest record) that
  exits 0 and changes what predict prints (e.g. renamed labels, a float-input file's
  normalisation); the manifest is not covered by the integrity digests, so such edits are only
  checked for consistency, not detected;
- `refused` (exit 1 or 2 with one error line), `ok` (exit 0 and, where comparable, the same answer).

The report (`--out`, default benchmarks/results/fuzz.md) gives the counts per category, command
and outcome, exit-code histograms, the byte-flip results per record kind, every failure with its
reproduction data, and the exact command; `--json` writes the raw per-case records.
"""
from __future__ import annotations

import argparse
import collections
import copy
import datetime
import json
import os
import pathlib
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

ROOT = pathlib.Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests", ROOT / "examples", ROOT / "scripts"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

ARCH = "test_efficientnet"
LABELS = ["circle", "cross", "ring", "square"]
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "fuzz.md"

# Full-campaign case counts per (category, command, target); --scale multiplies them.
PLAN = [
    ("model-bytes", "predict", "img.ptl", 1200), ("model-bytes", "predict", "img.pte", 700),
    ("model-bytes", "predict", "flt.ptl", 250), ("model-bytes", "predict", "flt.pte", 200),
    ("model-bytes", "inspect", "img.ptl", 600), ("model-bytes", "inspect", "img.pte", 400),
    ("model-bytes", "bench", "img.ptl", 25), ("model-bytes", "bench", "img.pte", 20),
    ("model-bytes", "check", "img.ptl", 25),
    ("manifest-type", "predict", "img.ptl", 250), ("manifest-type", "predict", "img.pte", 150),
    ("manifest-type", "predict", "flt.ptl", 80), ("manifest-type", "inspect", "img.ptl", 150),
    ("manifest-type", "inspect", "img.pte", 100), ("manifest-type", "bench", "img.ptl", 40),
    ("manifest-type", "check", "img.ptl", 40),
    ("manifest-value", "predict", "img.ptl", 250), ("manifest-value", "predict", "img.pte", 150),
    ("manifest-value", "predict", "flt.ptl", 80), ("manifest-value", "predict", "flt.pte", 60),
    ("manifest-value", "inspect", "img.ptl", 100), ("manifest-value", "inspect", "img.pte", 80),
    ("manifest-value", "bench", "img.ptl", 25), ("manifest-value", "check", "img.ptl", 25),
    ("image", "predict", "img.ptl", 500), ("image", "predict", "img.pte", 250),
    ("checkpoint", "build", "ckpt", 150),
    ("options", "build", "ckpt", 150), ("options", "predict", "img.ptl", 120),
    ("options", "predict", "img.pte", 60), ("options", "inspect", "img.ptl", 30),
    ("options", "bench", "img.ptl", 30), ("options", "check", "img.ptl", 25),
]


# ------------------------------------------------------------------------------------------------
# Setup: the artifacts every case starts from
# ------------------------------------------------------------------------------------------------

def setup(work: pathlib.Path, image_pte: bool) -> dict:
    import numpy as np
    import torch
    from PIL import Image

    from bn_stats import randomize_batchnorm
    from conftest import save_lightning_checkpoint
    from edgepack import BuildOptions, build
    from edgepack.models import ImageClassifier

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = ImageClassifier(backbone=ARCH, num_classes=len(LABELS), labels=LABELS,
                            data_config={"input_size": (3, 32, 32), "interpolation": "bilinear", "crop_pct": 0.9,
                                         "crop_mode": "center", "mean": (0.5,) * 3, "std": (0.25,) * 3})
    randomize_batchnorm(model)
    ckpt = save_lightning_checkpoint(work / "model.ckpt", model.eval(), dict(model.hparams),
                                     extra={"hparams_name": "kwargs"})
    files = {"ckpt": str(ckpt)}
    builds = [("img.ptl", {}), ("flt.ptl", {"input": "float"}), ("flt.pte", {"input": "float"})]
    if image_pte:
        builds.append(("img.pte", {}))
    timings = {}
    for name, kwargs in builds:
        start = time.perf_counter()
        build(str(ckpt), BuildOptions(output=str(work / name), force=True, **kwargs), report=lambda m: None)
        timings[name] = round(time.perf_counter() - start, 1)
        files[name] = str(work / name)
    rng = np.random.RandomState(0)
    pixels = (rng.rand(48, 64, 3) * 255).astype("uint8")
    Image.fromarray(pixels).save(work / "photo.png")
    Image.fromarray(pixels).save(work / "photo.jpg", quality=90)
    files["png"], files["jpg"] = str(work / "photo.png"), str(work / "photo.jpg")
    return {"files": files, "build_s": timings}


# ------------------------------------------------------------------------------------------------
# Case generation (parent) — plain JSON data, applied by the worker
# ------------------------------------------------------------------------------------------------

TYPE_VALUES = ["x", "", 0, -1, 1.5, True, None, [], [1, "a"], {}, {"k": [None]}, "9" * 40, 1e300, -0.0]
OPTION_VALUES = ["", "0", "-1", "1", "2", "nan", "inf", "-inf", "1e309", "1e-30", "abc", "3x", "0x0", "64x", "x64",
                 "99999999999999999999", "2147483648", "1,2", "1,,2", "0.5,0.5", "nan,nan,nan", "inf,1,1",
                 "1 2 3", "0,0,0", "1e-30,1e-30,1e-30", "é", "\u202e", "--json", "-", "3", "4", "16", "64x48"]
# Large values only where they cost nothing (a 100000-run benchmark or a 4096-px network would be
# a long, legitimate job, not a hang).
LARGE_VALUES = ["100000", "4097", "8192", "65536"]
BUILD_OPTIONS = ["--num-classes", "--image-size", "--interpolation", "--crop-pct", "--crop-mode", "--mean", "--std",
                 "--rtol", "--min-agreement", "--bytecode-version", "--runtime", "--max-side", "--max-pixels",
                 "--val-count", "--calib-count", "--method", "--input", "--output-kind", "--optimize", "--format",
                 "--target", "--labels", "--weights", "--arch", "--model-class", "--quantize", "-o"]
PREDICT_OPTIONS = ["--top-k", "--max-pixels"]
BENCH_OPTIONS = ["--threads", "--runs", "--warmup", "--image", "--channels", "--omp-threads", "--omp-wait-policy",
                 "--engine", "--timeout"]
CHECK_OPTIONS = ["--runtime", "--python"]
BYTE_OPS = ["flip", "flip", "flip", "truncate", "insert", "overwrite", "zero"]


def _byte_ops(rng: random.Random, region=None, size: int = 0, flips_only: bool = False) -> list:
    """[(op, position, value, length)]; positions inside `region` (start, length) when given."""
    ops = []
    for _ in range(rng.randint(1, 4) if not flips_only else rng.randint(1, 3)):
        op = "flip" if flips_only else rng.choice(BYTE_OPS)
        if region is not None:
            pos = region[0] + rng.randrange(max(region[1], 1))
        else:
            pos = rng.randrange(max(size, 1))
        ops.append((op, pos, rng.randrange(256), rng.randint(1, 64)))
    return ops


def generate(plan: List[tuple], files: dict, scale: float, seed: int) -> List[dict]:
    import mutations

    rng = random.Random(seed)
    records = {name: mutations.records(path) for name, path in files.items() if name.endswith((".ptl", ".pte"))}
    sizes = {name: os.path.getsize(path) for name, path in files.items()}
    manifests = {name: mutations.read_manifest(path) for name, path in files.items() if name.endswith((".ptl", ".pte"))}
    cases = []
    for category, command, target, count in plan:
        if target not in files:
            continue
        n = max(1, round(count * scale))
        for i in range(n):
            case = {"id": len(cases), "category": category, "command": command, "target": target}
            if category == "model-bytes":
                kinds = sorted(records[target])
                if rng.random() < 0.1:
                    case["kind"] = "truncation"
                    case["ops"] = [("truncate", rng.randrange(sizes[target]), 0, 0)]
                else:
                    kind = kinds[i % len(kinds)]  # every record kind, in turn
                    start, length = rng.choice(records[target][kind])
                    case["kind"] = kind
                    case["ops"] = _byte_ops(rng, (start, length), flips_only=True)
            elif category == "manifest-type":
                case.update(_manifest_type_mutation(rng, manifests[target]))
            elif category == "manifest-value":
                case.update(_manifest_value_mutation(rng, manifests[target], target))
            elif category == "image":
                src = rng.choice(["png", "jpg"])
                case["source"] = src
                if rng.random() < 0.04:
                    case["special"] = rng.choice(["directory", "fifo", "empty", "missing", "devzero"])
                else:
                    case["ops"] = _byte_ops(rng, size=sizes[src])
            elif category == "checkpoint":
                case["ops"] = _byte_ops(rng, size=sizes["ckpt"])
            elif category == "options":
                pool = {"build": BUILD_OPTIONS, "predict": PREDICT_OPTIONS, "bench": BENCH_OPTIONS,
                        "check": CHECK_OPTIONS, "inspect": ["--json"]}[command]
                opts = []
                for _ in range(rng.randint(1, 3)):
                    opts.append(rng.choice(pool))
                    if opts[-1] != "--json":
                        values = OPTION_VALUES + (LARGE_VALUES if command in ("predict", "check") else [])
                        if command in ("bench", "build"):
                            values = [v for v in values if not (v.isdigit() and int(v) > 64)]
                        opts.append(rng.choice(values))
                case["options"] = opts
            cases.append(case)
    return cases


def _paths(manifest, prefix=()) -> List[tuple]:
    """Every path into the manifest (dict keys and list indices), the root included."""
    out = [prefix]
    if isinstance(manifest, dict):
        for k, v in manifest.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(manifest, list):
        for i, v in enumerate(manifest[:8]):
            out += _paths(v, prefix + (i,))
    return out


IMPORTANT = [("input",), ("input", "kind"), ("input", "channels"), ("input", "max_side"), ("input", "min_side"),
             ("input", "shape"), ("input", "dtype"), ("output",), ("output", "shape"), ("output", "num_classes"),
             ("output", "kind"), ("output", "activation"), ("labels",), ("task",), ("schema",), ("format",),
             ("preprocess",), ("preprocess", "mean"), ("preprocess", "std"), ("preprocess", "input_size"),
             ("quantization",), ("quantization", "engine"), ("quantization", "mode"), ("optimizer",),
             ("optimizer", "dropped"), ("validation",), ("source",), ()]


def _exists(manifest, path) -> bool:
    node = manifest
    for key in path:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return False
    return True


def _get(manifest, path):
    for key in path:
        manifest = manifest[key]
    return manifest


def _manifest_type_mutation(rng: random.Random, manifest: dict) -> dict:
    paths = [p for p in IMPORTANT if _exists(manifest, p)] * 2 + _paths(manifest)
    path = list(rng.choice(paths))
    value = rng.choice(TYPE_VALUES)
    current = _get(manifest, path) if path else manifest
    while type(value) is type(current) and value == current:
        value = rng.choice(TYPE_VALUES)
    return {"path": path, "value": value, "mode": rng.choice(["set", "set", "set", "delete"]) if path else "set"}


def _manifest_value_mutation(rng: random.Random, manifest: dict, target: str) -> dict:
    n = manifest["output"]["num_classes"]
    choices = [
        (["output", "num_classes"], rng.choice([n - 1, n + 1, 1, 1000])),
        ("consistent-classes", rng.choice([n - 1, n + 1, 1])),  # num_classes, shape and labels all changed together
        (["labels"], LABELS[::-1]),
        (["labels"], [f"label{i}" for i in range(n)]),
        (["labels"], LABELS[:-1]),
        (["labels"], LABELS + ["extra"]),
        (["labels", rng.randrange(n)], "renamed"),
        (["task"], "multilabel" if manifest["task"] == "multiclass" else "multiclass"),
        (["output", "kind"], "logits"),
        (["output", "activation"], rng.choice(["sigmoid", "softmax", "none"])),
        (["format"], "pte" if target.endswith(".ptl") else "ptl"),
        (["schema"], rng.choice([0, 2, 99])),
        (["quantization", "mode"], rng.choice(["dynamic", "static", "bogus"])),
        (["quantization", "engine"], rng.choice(["qnnpack", "x86", "fbgemm", "bogus"])),
        (["validation", "passed"], False),
        (["source", "name"], "other.ckpt"),
        (["preprocess", "mean"], [0.1, 0.2, 0.3]),
        (["preprocess", "std"], [1.0, 1.0, 1.0]),
        (["preprocess", "input_size"], [3, 16, 16]),
        (["preprocess", "interpolation"], rng.choice(["bicubic", "nearest", "lanczos"])),
        (["preprocess", "crop_pct"], rng.choice([0.5, 1.0, 0.0])),
    ]
    if manifest["input"]["kind"] == "image":
        choices += [
            (["input", "kind"], "tensor"),
            (["input", "max_side"], rng.choice([16, 64, 1919, 4096, 100000])),
            (["input", "min_side"], rng.choice([1, 100, 10000])),
            (["input", "channels"], rng.choice([[3], [4], [1, 3], [5]])),
            ("swap-kind", "tensor"),
        ]
    else:
        shape = manifest["input"]["shape"]
        choices += [
            (["input", "kind"], "image"),
            (["input", "shape"], rng.choice([[1, 3, 16, 16], [2, 3, shape[2], shape[3]], [1, 3, 64, 32]])),
            ("swap-kind", "image"),
        ]
    path, value = rng.choice(choices)
    return {"path": path, "value": value, "mode": "set"}


# ------------------------------------------------------------------------------------------------
# Worker: applies the mutation, runs the command in-process
# ------------------------------------------------------------------------------------------------

def mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for op, pos, value, length in ops:
        if not buf:
            break
        pos %= len(buf)
        if op == "flip":
            buf[pos] ^= 1 << (value % 8)
        elif op == "truncate":
            del buf[pos:]
        elif op == "insert":
            buf[pos:pos] = bytes([value]) * length
        elif op == "overwrite":
            buf[pos:pos + length] = bytes([value]) * min(length, len(buf) - pos)
        elif op == "zero":
            buf[pos:pos + length] = bytes(min(length, len(buf) - pos))
    return bytes(buf)


def apply_manifest_mutation(manifest, case: dict):
    m = copy.deepcopy(manifest)
    path, value = case["path"], case["value"]
    if path in ("consistent-classes", "swap-kind"):
        if path == "consistent-classes":
            n = value
            m["labels"] = [f"c{i}" for i in range(n)]
            m["output"]["num_classes"] = n
            m["output"]["shape"] = [n] if m["input"]["kind"] == "image" else [1, n]
        elif value == "tensor":
            m["input"] = {"kind": "tensor", "dtype": "float32", "layout": "NCHW", "shape": [1, 3, 32, 32],
                          "normalized": True}
            m["output"]["shape"] = [1, m["output"]["num_classes"]]
        else:
            m["input"] = {"kind": "image", "dtype": "uint8", "layout": "HWC", "channels": [3, 4], "color": "RGB",
                          "min_side": 16, "max_side": 1920, "downscale_ok": True}
            m["output"]["shape"] = [m["output"]["num_classes"]]
        return m
    if not path:
        return value
    node = m
    for key in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(key, {})
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return m
    last = path[-1]
    if case.get("mode") == "delete":
        if isinstance(node, dict):
            node.pop(last, None)
        elif isinstance(node, list) and isinstance(last, int) and last < len(node):
            del node[last]
    elif isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value
    return m


def prepare_case(case: dict, files: dict, work: pathlib.Path, manifests: dict) -> List[str]:
    """The argv of the case, with its mutated file written under `work`."""
    import mutations

    for old in work.iterdir():
        if old.is_dir() and not old.is_symlink():
            import shutil

            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    target, command = case["target"], case["command"]
    path = files.get(target)
    category = case["category"]
    if category == "model-bytes":
        path = str(work / f"mutant{pathlib.Path(target).suffix}")
        pathlib.Path(path).write_bytes(mutate(pathlib.Path(files[target]).read_bytes(), case["ops"]))
    elif category.startswith("manifest-"):
        path = str(work / f"mutant{pathlib.Path(target).suffix}")
        new = apply_manifest_mutation(manifests[target], case)
        try:
            mutations.with_manifest(files[target], path, new)
        except ValueError:  # a .pte manifest that no longer fits its slot: write it cut to length
            old = mutations.manifest_text(files[target])
            text = json.dumps(new)[:len(old.encode("utf-8"))]
            mutations.with_manifest(files[target], path, text.encode("utf-8")[:len(old.encode())].decode("utf-8", "ignore"),
                                    raw=True)
    image = files["png"]
    if category == "image":
        special = case.get("special")
        image = str(work / f"image.{case['source']}")
        if special == "directory":
            os.mkdir(image)
        elif special == "fifo":
            os.mkfifo(image)
        elif special == "empty":
            pathlib.Path(image).write_bytes(b"")
        elif special == "devzero":
            image = "/dev/zero"
        elif special == "missing":
            pass
        else:
            pathlib.Path(image).write_bytes(mutate(pathlib.Path(files[case["source"]]).read_bytes(), case["ops"]))
    if category == "checkpoint":
        path = str(work / "mutant.ckpt")
        pathlib.Path(path).write_bytes(mutate(pathlib.Path(files["ckpt"]).read_bytes(), case["ops"]))
    options = list(case.get("options", []))
    if command == "build":
        argv = ["build", path, "-o", str(work / "out.ptl"), "--force"]
        if "-o" in options:  # the option under test replaces the default output
            argv = ["build", path, "--force"]
    elif command == "predict":
        argv = ["predict", path, image]
    elif command == "inspect":
        argv = ["inspect", path]
    elif command == "bench":
        argv = ["bench", path, "--runs", "1", "--warmup", "0", "--timeout", "60"]
    else:
        argv = ["check", path, "--python", files["compat_python"]]
    return argv + options + ["--json"]


def _answer(stdout: str, command: str):
    """predict's answer: [(index, probability), ...] of the image, or None."""
    if command != "predict":
        return None
    try:
        doc = json.loads(stdout)
        return [[t["index"], t["probability"], t["label"]] for t in doc["results"][0]["top_k"]]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def worker_main(argv: List[str]) -> int:
    """`fuzz_campaign.py --worker SPEC`: run cases [start:] of the spec, one JSON line each."""
    import contextlib
    import io
    import traceback

    from click.testing import CliRunner

    import mutations
    from edgepack.cli import main as cli_main

    spec = json.loads(pathlib.Path(argv[0]).read_text())
    files = spec["files"]
    cases = json.loads(pathlib.Path(spec["cases"]).read_text())
    manifests = {name: mutations.read_manifest(path) for name, path in files.items() if name.endswith((".ptl", ".pte"))}
    work = pathlib.Path(spec["workdir"])
    work.mkdir(parents=True, exist_ok=True)
    runner = CliRunner()
    os.chdir(work)
    with open(spec["results"], "a") as results, open(spec["progress"], "a") as progress:
        for index in spec["indices"][spec["start"]:]:
            case = cases[index]
            progress.write(f"{index}\n")
            progress.flush()
            (work / "case").mkdir(exist_ok=True)
            try:
                argv_case = prepare_case(case, files, work / "case", manifests)
            except Exception:  # a bug of the campaign, not of edgepack: the case is "not run"
                results.write(json.dumps({"id": case["id"], "exit": None, "missing": True,
                                          "prepare_error": traceback.format_exc()[-1500:]}) + "\n")
                results.flush()
                continue
            # EDGEPACK_FUZZ_SELFTEST=abort:ID,hang:ID tests the campaign itself (restart and watchdog)
            injected = os.environ.get("EDGEPACK_FUZZ_SELFTEST", "").split(",")
            if f"abort:{case['id']}" in injected:
                os.abort()
            if f"hang:{case['id']}" in injected:
                time.sleep(3600)
            start = time.perf_counter()
            err_buf = io.StringIO()
            with contextlib.redirect_stderr(err_buf):  # warnings printed by libraries, not by the CLI
                result = runner.invoke(cli_main, argv_case, catch_exceptions=True)
            elapsed = time.perf_counter() - start
            uncaught = result.exception is not None and not isinstance(result.exception, SystemExit)
            stderr = result.stderr or ""
            record = {
                "id": case["id"], "exit": result.exit_code, "seconds": round(elapsed, 3),
                "uncaught": "".join(traceback.format_exception(result.exception))[-2000:] if uncaught else None,
                "traceback": "Traceback (most recent call last)" in stderr + (result.stdout or ""),
                "error_lines": [line for line in stderr.splitlines() if line.startswith("edgepack: error:")][:3],
                "answer": _answer(result.stdout, case["command"]) if result.exit_code == 0 else None,
                "argv": argv_case,
            }
            if case["command"] == "build" and result.exit_code != 0:
                record["left_output"] = (work / "case" / "out.ptl").exists()
            results.write(json.dumps(record) + "\n")
            results.flush()
    return 0


# ------------------------------------------------------------------------------------------------
# Parent: runs the workers, restarts them after crashes, kills hangs
# ------------------------------------------------------------------------------------------------

def run_chain(name: str, indices: List[int], spec_base: dict, root: pathlib.Path, case_timeout: float,
              log) -> Dict[int, dict]:
    """Run `indices` in worker processes; returns {case id: record} including crash/hang records."""
    results_path, progress_path = root / f"{name}.results.jsonl", root / f"{name}.progress"
    records: Dict[int, dict] = {}
    start = 0
    while start < len(indices):
        spec = dict(spec_base, indices=indices, start=start, results=str(results_path), progress=str(progress_path),
                    workdir=str(root / f"{name}-work"))
        spec_path = root / f"{name}.spec.json"
        spec_path.write_text(json.dumps(spec))
        progress_path.write_text("")
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.Popen([sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", str(spec_path)],
                                stdout=subprocess.DEVNULL, stderr=open(root / f"{name}.stderr", "ab"), env=env,
                                start_new_session=True)
        last_seen, since = None, time.monotonic()
        hung = None
        while proc.poll() is None:
            time.sleep(0.2)
            lines = progress_path.read_text().split()
            current = int(lines[-1]) if lines else None
            if current != last_seen:
                last_seen, since = current, time.monotonic()
            elif current is not None and time.monotonic() - since > case_timeout:
                done = _read_results(results_path)
                if current not in done:
                    hung = current
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    break
        records.update(_read_results(results_path))
        lines = progress_path.read_text().split()
        current = int(lines[-1]) if lines else None
        if hung is not None:
            records[hung] = {"id": hung, "exit": None, "hang": True, "seconds": case_timeout}
            log(f"  case {hung}: no exit after {case_timeout:.0f}s (killed)")
        elif proc.returncode != 0 and current is not None and current not in records:
            records[current] = {"id": current, "exit": proc.returncode, "worker_died": True}
            log(f"  case {current}: the worker died (exit {proc.returncode})")
        elif proc.returncode != 0 and current is None:
            raise SystemExit(f"fuzz worker {name} failed to start; see {root / (name + '.stderr')}")
        done = {i for i in indices if i in records}
        remaining = [k for k, i in enumerate(indices) if i not in done]
        if not remaining:
            break
        start = remaining[0]
        if start < len(indices) and indices[start] == current and current in records:
            start += 1
    return records


def _read_results(path: pathlib.Path) -> Dict[int, dict]:
    out = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                out[rec["id"]] = rec
    return out


# ------------------------------------------------------------------------------------------------
# Outcomes and the report
# ------------------------------------------------------------------------------------------------

def outcome(case: dict, rec: dict, reference: dict) -> str:
    if rec.get("hang"):
        return "hang"
    code = rec.get("exit")
    if rec.get("worker_died") or code not in (0, 1, 2) or rec.get("uncaught") or rec.get("traceback") \
            or len(rec.get("error_lines") or []) > 1 or rec.get("left_output"):
        return "crash"
    if code != 0:
        return "refused" if rec.get("error_lines") or case["command"] == "check" and code == 1 else "crash"
    category, command = case["category"], case["command"]
    if category == "model-bytes":
        if command == "predict" and rec.get("answer") != reference.get(case["target"]):
            # the manifest is not covered by the integrity digests: a flip there that keeps it valid
            # (a letter of a label, a figure) is an accepted edit, like the manifest-value cases
            return "accepted-manifest-edit" if case.get("kind") == "manifest" else "silent-wrong-answer"
        return "undetected-damage"
    if category.startswith("manifest-") and command == "predict":
        return "accepted-manifest-edit" if rec.get("answer") != reference.get(case["target"]) else "ok"
    return "ok"


def summarize(cases: List[dict], records: Dict[int, dict], reference: dict) -> dict:
    by = collections.defaultdict(collections.Counter)
    exits = collections.defaultdict(collections.Counter)
    kinds = collections.defaultdict(collections.Counter)
    failures, silent, accepted = [], [], []
    for case in cases:
        rec = records.get(case["id"], {"exit": None, "missing": True})
        out = outcome(case, rec, reference) if not rec.get("missing") else "not-run"
        if out == "refused" and case["command"] == "check" and any(
                "recreate it with" in line for line in rec.get("error_lines") or []):
            out = "refused-no-old-runtime"  # check got as far as the old runtime, which is not torch 2.1 here
        case["outcome"] = out
        key = (case["category"], case["command"], case["target"])
        by[key][out] += 1
        exits[(case["category"], case["command"])][str(rec.get("exit"))] += 1
        if case["category"] == "model-bytes":
            kinds[(case["target"], case.get("kind"))][out] += 1
        if out in ("crash", "hang", "not-run"):
            failures.append({"case": case, "record": rec})
        elif out == "silent-wrong-answer":
            silent.append({"case": case, "answer": rec.get("answer")})
        elif out == "accepted-manifest-edit":
            accepted.append({"case": case, "answer": rec.get("answer")})
    totals = collections.Counter(c["outcome"] for c in cases)
    exit_total = collections.Counter(str(records.get(c["id"], {}).get("exit")) for c in cases)
    return {"by": by, "exits": exits, "kinds": kinds, "failures": failures, "silent": silent, "accepted": accepted,
            "totals": totals, "exit_total": exit_total}


def integrity_probe(files: dict, work: pathlib.Path) -> dict:
    """Flip one byte in the middle of the largest weight record of img.ptl and run predict: exit 2
    with 'damaged' means the build has integrity digests that predict verifies."""
    from click.testing import CliRunner

    import mutations
    from edgepack.cli import main as cli_main

    src = pathlib.Path(files["img.ptl"])
    start, length = max(mutations.records(src)["weights"], key=lambda r: r[1])
    probe = work / "probe.ptl"
    probe.write_bytes(mutate(src.read_bytes(), [("flip", start + length // 2, 3, 1)]))
    result = CliRunner().invoke(cli_main, ["predict", str(probe), files["png"], "--json"])
    return {"exit": result.exit_code, "detected": result.exit_code == 2,
            "message": next((line for line in (result.stderr or "").splitlines() if "error" in line), None)}


def references(files: dict) -> dict:
    from click.testing import CliRunner

    from edgepack.cli import main as cli_main

    out = {}
    for name in ("img.ptl", "img.pte", "flt.ptl", "flt.pte"):
        if name in files:
            result = CliRunner().invoke(cli_main, ["predict", files[name], files["png"], "--json"])
            assert result.exit_code == 0, result.stderr
            out[name] = _answer(result.stdout, "predict")
    return out


def report_markdown(meta: dict, s: dict, cases: List[dict]) -> str:
    t = s["totals"]
    lines = [
        "# Fuzz campaign (#14 item 6)",
        "",
        f"Command: `{meta['command']}`  ",
        f"Run {meta['date']} on commit `{meta['commit']}` ({meta['dirty']}), seed {meta['seed']}, scale {meta['scale']}, "
        f"case timeout {meta['case_timeout']} s, {meta['jobs']} worker chain(s), {meta['cpu']}; "
        f"torch {meta['torch']}, executorch {meta['executorch']}. Wall time {meta['wall_s']:.0f} s "
        f"(setup {meta['setup_s']:.0f} s: builds {meta['build_s']}).",
        "",
        "What the campaign does, the categories and the outcomes: the docstring of "
        "`benchmarks/fuzz_campaign.py`. Artifacts: a `test_efficientnet` classifier (4 classes) built by this "
        "edgepack as image- and float-input `.ptl` and `.pte`"
        + ("" if "img.pte" in meta["files"] else " (image `.pte` skipped: --no-image-pte)") + ".",
        "",
        "## Totals",
        "",
        f"- cases: **{len(cases)}** (targets: >= 5,000 for the full campaign)",
        f"- exits >= 3, uncaught exceptions, tracebacks or multi-line errors (`crash`): **{t['crash']}**",
        f"- hangs (no exit within {meta['case_timeout']} s): **{t['hang']}**",
        f"- cases not run: {t['not-run']}",
        f"- silent wrong answers (damaged file, predict exit 0, different answer): **{t['silent-wrong-answer']}**",
        f"- damage not detected, same answer or no answer to compare (`undetected-damage`): {t['undetected-damage']}",
        f"- manifest edits accepted that change what predict prints (`accepted-manifest-edit`): "
        f"{t['accepted-manifest-edit']}",
        f"- refused with one error line (exit 1/2): {t['refused']}; ok: {t['ok']}",
        f"- `check`: old runtime `{meta['compat_python']}` (torch {meta['compat_torch']})"
        + (f"; {t['refused-no-old-runtime']} check cases reached the old-runtime step and stopped there "
           "(`refused-no-old-runtime`: no torch 2.1 environment)" if t["refused-no-old-runtime"] else ""),
        f"- integrity probe (one flipped byte in the largest weight record, predict): exit {meta['probe']['exit']}, "
        + ("**detected**" if meta["probe"]["detected"] else "**not detected: this build has no integrity digests**")
        + (f" ({meta['probe']['message']})" if meta["probe"].get("message") else ""),
        "",
        "Exit codes over all cases: " + ", ".join(f"{k}: {v}" for k, v in sorted(s["exit_total"].items())),
        "",
        "## Per category, command and file",
        "",
        "| category | command | file | cases | refused | ok | undetected | silent wrong | accepted edit | crash | hang |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        # refused includes refused-no-old-runtime (see Totals)
    ]
    for (category, command, target), c in sorted(s["by"].items()):
        lines.append(f"| {category} | {command} | {target} | {sum(c.values())} | "
                     f"{c['refused'] + c['refused-no-old-runtime']} | {c['ok']} | "
                     f"{c['undetected-damage']} | {c['silent-wrong-answer']} | {c['accepted-manifest-edit']} | "
                     f"{c['crash']} | {c['hang']} |")
    lines += ["", "## Exit-code histograms", "", "| category | command | exit codes |", "|---|---|---|"]
    for (category, command), c in sorted(s["exits"].items()):
        lines.append(f"| {category} | {command} | " + ", ".join(f"{k}: {v}" for k, v in sorted(c.items())) + " |")
    lines += ["", "## Byte flips per record kind (model-bytes, all commands)", "",
              "| file | record kind | cases | refused | silent wrong | undetected | crash | hang |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for (target, kind), c in sorted(s["kinds"].items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        lines.append(f"| {target} | {kind} | {sum(c.values())} | {c['refused'] + c['refused-no-old-runtime']} | {c['silent-wrong-answer']} | "
                     f"{c['undetected-damage']} | {c['crash']} | {c['hang']} |")
    lines += ["", "## Failures (crash, hang, not run)", ""]
    if not s["failures"]:
        lines.append("None.")
    for f in s["failures"][:40]:
        rec = f["record"]
        detail = rec.get("uncaught") or "; ".join(rec.get("error_lines") or []) or ("hang" if rec.get("hang") else "")
        lines.append(f"- case {f['case']['id']} ({f['case']['category']}, {f['case']['command']} "
                     f"{f['case']['target']}): exit {rec.get('exit')}; `{json.dumps(rec.get('argv'))}`; "
                     f"{str(detail)[-600:]!r}")
    lines += ["", "## Accepted manifest edits that change predict's output (first 15)", ""]
    if not s["accepted"]:
        lines.append("None.")
    for a in s["accepted"][:15]:
        c = a["case"]
        lines.append(f"- {c['target']}: `{json.dumps(c.get('path'))}` = `{json.dumps(c.get('value'))}`")
    lines.append("")
    return "\n".join(lines)


def _git(*args) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--worker"]:
        return worker_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every case count of the plan")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="worker chains run side by side")
    parser.add_argument("--case-timeout", type=float, default=120.0)
    parser.add_argument("--no-image-pte", action="store_true", help="skip the image-input .pte (its build takes ~30 s)")
    parser.add_argument("--only", help="comma-separated categories to run")
    parser.add_argument("--compat-python", help="python of a torch 2.1 environment for `check` (default: "
                        "$EDGEPACK_COMPAT_PYTHON, else .venv-compat, else this python: check then stops at the "
                        "old-runtime step)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="Markdown report ('-' for none)")
    parser.add_argument("--json", dest="json_out", help="raw per-case records and the summary as JSON")
    parser.add_argument("--workdir", help="keep the artifacts and worker files here (default: a temporary folder)")
    args = parser.parse_args(argv)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgepack-fuzz-") as tmp:
        root = pathlib.Path(args.workdir or tmp)
        root.mkdir(parents=True, exist_ok=True)
        log(f"fuzz campaign: building the artifacts in {root} ...")
        info = setup(root, image_pte=not args.no_image_pte)
        files = info["files"]
        files["compat_python"] = _compat_python(args.compat_python)
        compat_torch = subprocess.run([files["compat_python"], "-c", "import torch; print(torch.__version__)"],
                                      capture_output=True, text=True, timeout=300).stdout.strip() or "?"
        reference = references(files)
        probe = integrity_probe(files, root)
        setup_s = time.perf_counter() - started
        plan = [p for p in PLAN if (not args.only or p[0] in args.only.split(","))]
        cases = generate(plan, files, args.scale, args.seed)
        (root / "cases.json").write_text(json.dumps(cases))
        log(f"fuzz campaign: {len(cases)} cases, {args.jobs} worker chain(s)")
        spec_base = {"files": files, "cases": str(root / "cases.json")}
        order = list(range(len(cases)))
        random.Random(args.seed + 1).shuffle(order)  # spread slow commands over the chains
        chains = [order[j::args.jobs] for j in range(args.jobs)]
        records: Dict[int, dict] = {}
        if args.jobs == 1:
            records.update(run_chain("w0", chains[0], spec_base, root, args.case_timeout, log))
        else:
            import concurrent.futures

            with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
                futures = [pool.submit(run_chain, f"w{j}", chain, spec_base, root, args.case_timeout, log)
                           for j, chain in enumerate(chains)]
                for fut in futures:
                    records.update(fut.result())
        summary = summarize(cases, records, reference)
        import torch

        meta = {
            "command": "python benchmarks/fuzz_campaign.py " + " ".join(shlex.quote(a) for a in argv),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": _git("rev-parse", "--short", "HEAD"),
            "dirty": "with uncommitted changes" if _git("status", "--porcelain", "--untracked-files=no") else "clean",
            "seed": args.seed, "scale": args.scale, "case_timeout": args.case_timeout, "jobs": args.jobs,
            "cpu": f"{os.cpu_count()} logical CPUs", "torch": torch.__version__,
            "executorch": _version("executorch"), "wall_s": time.perf_counter() - started, "setup_s": setup_s,
            "build_s": info["build_s"], "files": sorted(files), "probe": probe,
            "compat_python": files["compat_python"], "compat_torch": compat_torch,
        }
        if args.out != "-":
            pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            pathlib.Path(args.out).write_text(report_markdown(meta, summary, cases))
            log(f"fuzz campaign: report written to {args.out}")
        doc = {"meta": meta, "totals": dict(summary["totals"]), "exit_codes": dict(summary["exit_total"]),
               "by": {" ".join(k): dict(v) for k, v in summary["by"].items()},
               "kinds": {f"{k[0]} {k[1]}": dict(v) for k, v in summary["kinds"].items()},
               "failures": summary["failures"], "silent": summary["silent"][:200],
               "accepted": summary["accepted"][:200], "cases": len(cases)}
        if args.json_out:
            pathlib.Path(args.json_out).write_text(json.dumps(doc, indent=1, default=str))
        t = summary["totals"]
        log(f"fuzz campaign: {len(cases)} cases; crash {t['crash']}, hang {t['hang']}, not run {t['not-run']}, "
            f"silent wrong answers {t['silent-wrong-answer']}, undetected damage {t['undetected-damage']}, "
            f"accepted manifest edits {t['accepted-manifest-edit']}, refused {t['refused']}, ok {t['ok']}; "
            f"integrity probe {'detected' if probe['detected'] else 'not detected'}")
        print(json.dumps({"cases": len(cases), "totals": dict(t), "probe": probe, "exit_codes": dict(summary["exit_total"])}))
    return 0 if not (t["crash"] or t["hang"] or t["not-run"]) else 1


def _compat_python(given: Optional[str]) -> str:
    for candidate in (given, os.environ.get("EDGEPACK_COMPAT_PYTHON"), str(ROOT / ".venv-compat" / "bin" / "python")):
        if candidate and pathlib.Path(candidate).exists():
            return candidate
    return sys.executable


def _version(name: str) -> Optional[str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
