"""Bytecode versions and lite-runtime compatibility, and running a `.ptl` in an old runtime.

The mobile libraries are frozen (the last `pytorch_android_lite` is 2.1.0) while desktop torch
keeps writing files. `RUNTIME_MAX_BYTECODE` maps a lite-runtime release to the highest bytecode
version its loader accepts (`caffe2::serialize::kMaxSupportedBytecodeVersion` in
`caffe2/serialize/versions.h` of that release; the loader rejects files outside
`kMinSupportedBytecodeVersion..kMaxSupportedBytecodeVersion` with "Lite Interpreter version number
does not match. The model version must be between 4 and 9 ...").

Source of the table (docs/compat.md has the details):
- "2.1": 9 is MEASURED: torch 2.1.0's `_load_for_lite_interpreter` (the code inside
  pytorch_android_lite 2.1.0) loads and runs files whose bytecode version is 4..9 and rejects 3, 10
  and 11 with the message above. torch 2.12.1 (edgepack's pinned torch) writes version 8
  (`kProducedBytecodeVersion`) and also accepts 4..9; its operator versions top out at 10, the same
  as 2.1's file-format maximum.
- every other row is UNVERIFIED (no torch older than 2.0 installs on Python 3.11, and 2.0 was not
  run): the values follow the bytecode history in versions.h (v6 PR 56845, v7 PR 63651, v8 PR
  71662, v9 PR 75201). Since torch 2.12.1 writes 8, rows of 8 or more give the same file anyway.

`check_in_runtime` runs a file in the real old interpreter: it needs the torch 2.1.0 environment
(`make setup-compat` creates `.venv-compat` from `compat/requirements.txt`; an installed edgepack
takes `--python`/`EDGEPACK_COMPAT_PYTHON`) and runs `edgepack/data/run_in_old_runtime.py` (package
data) there in a subprocess. The runtime table itself is in `edgepack.runtimes`.
"""
from __future__ import annotations

import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Sequence

from .errors import EdgepackError

# The runtime table and operator lists live in `runtimes` (no imports of their own), so that
# `inspect` can use them without importing this module, which imports `inspect`.
from .runtimes import (MIN_BACKPORT_VERSION, MIN_SUPPORTED_BYTECODE, RUNTIME_MAX_BYTECODE,  # noqa: E402,F401
                       VERIFIED_RUNTIMES, max_bytecode_for_runtime, runtime_key as _runtime_key,
                       runtime_operators)

# Old runtimes that can really be run here: release -> virtual environment (repo-relative).
REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]  # a source checkout: the Makefile lives here
RUNTIME_ENVS = {"2.1": ".venv-compat"}
SETUP_COMMAND = "make setup-compat"
# Package data (edgepack/data/, in the wheel too): runs inside the old torch, standard library only.
RUNNER = pathlib.Path(__file__).resolve().parent / "data" / "run_in_old_runtime.py"
PYTHON_ENV_VAR = "EDGEPACK_COMPAT_PYTHON"

# Pass criteria for the old runtime's outputs against the current torch's lite interpreter.
FLOAT_RTOL = 1e-3
QUANT_MIN_AGREEMENT = 0.98
QUANT_MIN_COSINE = 0.99


def bytecode_version(path) -> int:
    """The bytecode version of a lite-interpreter file.

    Read from the first element of its `bytecode.pkl` record, which is all torch's
    `_get_model_bytecode_version` looks at too, but without reading the whole archive into
    memory first (a model-sized allocation at the build's memory peak).
    """
    import pickletools

    import torch

    reader = torch._C.PyTorchFileReader(str(path))
    if reader.has_record("bytecode.pkl"):
        for opcode, arg, _ in pickletools.genops(reader.get_record("bytecode.pkl")):
            if opcode.name == "PROTO" or opcode.name == "MARK":
                continue
            if opcode.name in ("BININT", "BININT1", "BININT2", "INT", "LONG1"):
                return int(arg)
            break  # not the layout we know: ask torch
    from torch.jit.mobile import _get_model_bytecode_version

    return int(_get_model_bytecode_version(str(path)))


def backport_in_place(path: pathlib.Path, version: int) -> None:
    """Rewrite `path` at bytecode `version` (no-op when it already is at or below it)."""
    from torch.jit.mobile import _backport_for_mobile

    current = bytecode_version(path)
    if version >= current:
        return
    if version < MIN_BACKPORT_VERSION:
        raise EdgepackError(f"--bytecode-version {version}: torch can backport down to {MIN_BACKPORT_VERSION} only")
    tmp = path.with_name(f"{path.stem}.backport{path.suffix}")  # still matched by the temp-file cleanup
    try:
        ok = _backport_for_mobile(str(path), str(tmp), version)
        if not ok or not tmp.exists():
            raise EdgepackError(f"cannot backport this model to bytecode version {version} (operators or types it needs did not exist then)")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --- operators a runtime has (no old torch needed) ----------------------------------------------

def operator_problems(ptl_path, runtime: str = "2.1") -> Optional[List[str]]:
    """See `edgepack.inspect.operator_problems` (kept here, where it used to live)."""
    from .inspect import operator_problems as problems

    return problems(ptl_path, runtime)


# --- running a file in an old runtime ------------------------------------------------------------

def runtime_python(runtime: str = "2.1", python: Optional[str] = None) -> pathlib.Path:
    """The interpreter of the old-runtime environment; explains how to create it when missing."""
    key = _runtime_key(runtime)
    if key not in RUNTIME_ENVS:
        raise EdgepackError(f"no old-runtime environment for '{runtime}' (available: {', '.join(RUNTIME_ENVS)})")
    chosen = python or os.environ.get(PYTHON_ENV_VAR)
    exe = pathlib.Path(chosen) if chosen else REPO_ROOT / RUNTIME_ENVS[key] / "bin" / "python"
    if not exe.exists():
        if chosen:
            how = f"{exe} does not exist (from --python/{PYTHON_ENV_VAR})"
        elif (REPO_ROOT / "Makefile").exists():  # a source checkout
            how = (f"run '{SETUP_COMMAND}' in {REPO_ROOT} "
                   f"(creates {RUNTIME_ENVS[key]} from compat/requirements.txt)")
        else:  # an installed package: there is no Makefile to run
            how = (f"pass --python PATH or set {PYTHON_ENV_VAR} to the python of an environment with "
                   f"torch=={key}.0 and numpy<2 installed")
        raise EdgepackError(f"the torch {key} runtime environment is missing: {how}")
    if not RUNNER.exists():
        raise EdgepackError(f"{RUNNER} is missing: this edgepack installation is incomplete (reinstall it)")
    return exe


def _check_inputs(manifest: dict) -> tuple:
    """(inputs, description) matching the manifest's input spec."""
    import torch

    from .validate import synthetic_images

    spec = manifest.get("input") or {}
    if spec.get("kind") == "image":
        images = synthetic_images()
        return images, f"{len(images)} synthetic frames"
    if spec.get("kind") == "tensor":
        shape = [int(s) for s in spec["shape"]]
        gen = torch.Generator().manual_seed(0)
        tensors = [torch.randn(*shape, generator=gen) for _ in range(8)]
        return tensors, f"{len(tensors)} random normal tensors {shape}"
    raise EdgepackError(f"unknown input kind {spec.get('kind')!r} in the manifest")


def _engine_of(manifest: dict) -> Optional[str]:
    q = manifest.get("quantization") or {}
    if q.get("mode") in (None, "none"):
        return None
    return q.get("engine") or "qnnpack"


def _summary(error: Optional[str]) -> str:
    """One line out of a (multi-line) TorchScript error."""
    if not error:
        return "unknown error"
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    chosen = next((line for line in reversed(lines)
                   if line.startswith(("RuntimeError:", "Error", "ValueError:", "TypeError:"))
                   or "error" in line.lower()), lines[-1] if lines else "unknown error")
    for tail in (" Please check if the operator library", " If you are a Meta employee"):
        chosen = chosen.split(tail)[0]
    return chosen[:300]


def _judge(quantized: bool, cmp, embedding: bool = False) -> Optional[str]:
    if quantized and embedding:  # the argmax of a feature vector means nothing: cosine only
        if cmp.min_cosine < QUANT_MIN_COSINE:
            return f"cosine similarity {cmp.min_cosine:.4f} < {QUANT_MIN_COSINE}"
        return None
    if quantized:
        if cmp.top1_agreement < QUANT_MIN_AGREEMENT:
            return f"top-1 agreement {cmp.top1_agreement:.1%} < {QUANT_MIN_AGREEMENT:.0%}"
        if cmp.min_cosine < QUANT_MIN_COSINE:
            return f"cosine similarity {cmp.min_cosine:.4f} < {QUANT_MIN_COSINE}"
        return None
    if not cmp.max_rel_err <= FLOAT_RTOL:
        return f"max relative error {cmp.max_rel_err:.2e} > {FLOAT_RTOL:.0e}"
    return None


def _judge_masks(report: dict, manifest: dict, ref_outputs, old_outputs) -> None:
    """A segmentation file in the old runtime: its masks (or the argmax of its per-class maps)
    against this torch's, by pixel agreement."""
    from .seg_validate import SEGMENTATION_MIN_PIXEL_AGREEMENT, MaskSpec, compare_masks

    out = manifest.get("output") or {}
    spec = MaskSpec(int(out.get("num_classes", 2)), "mask" if out.get("kind") == "mask" else "probabilities",
                    binary=out.get("activation") == "sigmoid")
    gate = SEGMENTATION_MIN_PIXEL_AGREEMENT["int8" if report["quantized"] else "float"]
    report["criteria"] = f"mask pixel agreement >= {gate}"
    try:
        cmp = compare_masks(ref_outputs, old_outputs, spec)
    except EdgepackError as exc:
        report["reason"] = f"outputs differ: {exc}"
        return
    report["comparison"] = cmp.to_dict()
    agreement = cmp.pooled_agreement()
    report["passed"] = agreement >= gate
    report["reason"] = None if report["passed"] else f"outputs differ: mask pixel agreement {agreement:.2%} < {gate:.1%}"


def _run_runner(exe: pathlib.Path, jobs: List[dict], workdir: pathlib.Path, timeout: float) -> tuple:
    """Run the jobs in the old runtime; survive crashes by rerunning the jobs after a crashed one.

    Returns (runtime info, {model path: result})."""
    workdir.mkdir(parents=True, exist_ok=True)
    results, info, pending = {}, {}, list(jobs)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONNOUSERSITE="1", PYTHONPATH="")
    round_no = 0
    while pending:
        round_no += 1
        spec_path = workdir / f"jobs{round_no}.json"
        res_path = workdir / f"results{round_no}.json"
        spec_path.write_text(json.dumps({"results": str(res_path), "jobs": pending}))
        try:
            proc = subprocess.run([str(exe), str(RUNNER), "--jobs", str(spec_path)], capture_output=True,
                                  text=True, timeout=timeout, env=env, cwd=str(workdir))
            crash = None if proc.returncode in (0, 1) else \
                f"old runtime crashed (exit {proc.returncode}): {_summary(proc.stderr) if proc.stderr else 'no message'}"
        except subprocess.TimeoutExpired:
            crash = f"old runtime timed out after {timeout:.0f}s"
        except OSError as exc:
            raise EdgepackError(f"{exe}: cannot start the old runtime ({exc.strerror or exc})") from None
        done = []
        if res_path.exists():
            data = json.loads(res_path.read_text())
            done = data.pop("results")
            info = data
        for res in done:
            results[res["model"]] = res
        rest = pending[len(done):]
        if not rest:
            break
        if crash is None:  # the runner ended cleanly without finishing: it could not even start
            raise EdgepackError(f"the old runtime did not run ({_summary(proc.stderr)})")
        # the first unfinished job is the one that crashed the process
        failed = rest[0]
        results[failed["model"]] = {"model": failed["model"], "loaded": False, "ran": False,
                                    "stage": "crash", "error": crash}
        pending = rest[1:]
    return info, results


def check_many(paths: Sequence, runtime: str = "2.1", python: Optional[str] = None,
               timeout: float = 600) -> List[dict]:
    """`check_in_runtime` for several files, with one process per runtime (importing torch takes
    seconds). The reference outputs also come from a child process (this torch, same runner, one
    thread): in a process that has already run aten work, OpenMP workers spin against XNNPACK's
    threadpool and the reference run is 100x slower (DESIGN.md, "Threads")."""
    import torch

    from .inspect import open_artifact
    from .integrity import verify_ptl
    from .manifest import check_manifest, check_output, is_embedding, is_segmentation, norm_problem
    from .validate import compare

    exe = runtime_python(runtime, python)
    key = _runtime_key(runtime)
    limit = max_bytecode_for_runtime(key)
    prepared = []
    with tempfile.TemporaryDirectory(prefix="edgepack-compat-") as tmp:
        workdir = pathlib.Path(tmp)
        ref_jobs, old_jobs = [], []
        for i, path in enumerate(paths):
            path = pathlib.Path(path)
            manifest = open_artifact(path)
            verify_ptl(path, manifest)  # a damaged file is refused before any runtime loads it
            if manifest is None:
                raise EdgepackError(f"{path}: no edgepack manifest, so no input spec to test it with")
            check_manifest(manifest, path, "ptl")
            inputs, described = _check_inputs(manifest)
            engine = _engine_of(manifest)
            model = workdir / f"m{i}.ptl"
            model.write_bytes(path.read_bytes())  # stable path, independent of the caller's cwd
            torch.save(list(inputs), workdir / f"in{i}.pt")
            job = {"model": str(model), "inputs": str(workdir / f"in{i}.pt"), "engine": engine or "qnnpack"}
            ref_jobs.append(dict(job, outputs=str(workdir / f"ref{i}.pt")))
            old_jobs.append(dict(job, outputs=str(workdir / f"old{i}.pt")))
            prepared.append((path, described, engine, manifest))
        start = time.perf_counter()
        _, ref_results = _run_runner(pathlib.Path(sys.executable), ref_jobs, workdir / "ref", timeout)
        ref_s = time.perf_counter() - start
        for ref_job, (path, _, _, manifest) in zip(ref_jobs, prepared):  # before the old runtime runs
            ref = ref_results.get(ref_job["model"], {})
            if ref.get("ran") and ref.get("stage") == "done":
                first = torch.load(ref_job["outputs"], weights_only=True)[0]
                check_output(first, manifest, path, frame=_check_inputs(manifest)[0][0])
        start = time.perf_counter()
        info, results = _run_runner(exe, old_jobs, workdir / "old", timeout)
        old_s = time.perf_counter() - start
        if info and not str(info.get("torch_version", "")).startswith(key + "."):
            raise EdgepackError(f"{exe} runs torch {info.get('torch_version')}, not {key}: "
                                f"recreate it with '{SETUP_COMMAND}'")
        reports = []
        for ref_job, old_job, (path, described, engine, manifest) in zip(ref_jobs, old_jobs, prepared):
            ref = ref_results.get(ref_job["model"], {})
            if not ref.get("ran") or ref.get("stage") != "done":
                raise EdgepackError(f"{path}: does not load or run in this torch's lite interpreter "
                                    f"({_summary(ref.get('error'))})")
            ref_outputs = torch.load(ref_job["outputs"], weights_only=True)
            res = results.get(old_job["model"], {"loaded": False, "ran": False, "error": "no result"})
            report = {
                "model": str(path), "runtime": key, "runtime_torch": info.get("torch_version"),
                "reference_torch": torch.__version__, "bytecode_version": bytecode_version(path),
                "runtime_max_bytecode": limit, "operator_problems": operator_problems(path, key),
                "quantized": engine is not None, "engine": engine or "qnnpack", "inputs": described,
                "task": manifest.get("task"),
                "loaded": bool(res.get("loaded")), "ran": bool(res.get("ran")), "error": None,
                "comparison": None, "passed": False, "reason": None,
                "criteria": (f"cosine >= {QUANT_MIN_COSINE}" if engine and is_embedding(manifest)
                             else f"top-1 agreement >= {QUANT_MIN_AGREEMENT}, cosine >= {QUANT_MIN_COSINE}" if engine
                             else f"max relative error <= {FLOAT_RTOL}"),
                "timings_s": {"reference_batch": round(ref_s, 3), "old_runtime_batch": round(old_s, 3),
                              "reference_run": ref.get("run_s"), "old_load": res.get("load_s"),
                              "old_run": res.get("run_s")},
            }
            reports.append(report)
            if not res.get("ran") or res.get("stage") != "done":
                where = {"load": "does not load", "run": "fails to run", "crash": "crashes",
                         "setup": "cannot be set up"}.get(res.get("stage"), "fails")
                report["error"] = res.get("error")
                report["reason"] = f"{where} in torch {info.get('torch_version', key)}: {_summary(res.get('error'))}"
                continue
            if is_segmentation(manifest):
                _judge_masks(report, manifest, ref_outputs, torch.load(old_job["outputs"], weights_only=True))
                continue
            try:
                cmp = compare(ref_outputs,
                              torch.load(old_job["outputs"], weights_only=True))
            except EdgepackError as exc:
                report["reason"] = f"outputs differ: {exc}"
                continue
            report["comparison"] = cmp.to_dict()
            reason = _judge(engine is not None, cmp, is_embedding(manifest))
            if is_embedding(manifest):  # both runtimes' vectors must be unit vectors
                report["criteria"] += ", unit-norm vectors"
                for who, outs in (("this torch", ref_outputs),
                                  (f"torch {key}", torch.load(old_job["outputs"], weights_only=True))):
                    problem = next((p for p in map(norm_problem, outs) if p), None)
                    if reason is None and problem:
                        reason = f"{who}: {problem}"
            report["passed"] = reason is None
            report["reason"] = None if reason is None else f"outputs differ: {reason}"
    return reports


def check_in_runtime(ptl_path, runtime: str = "2.1", python: Optional[str] = None, timeout: float = 600) -> dict:
    """Run `ptl_path` in the old lite runtime `runtime` and compare its outputs with this torch's
    lite interpreter on inputs that match the manifest's input spec.

    Returns a report dict (`passed`, `reason`, `comparison`, ...). Raises EdgepackError for usage
    problems: bad file, no manifest, missing old-runtime environment (with the command to make it).
    A file the old runtime cannot load or run is not an exception: `passed` is False and `reason`
    says why.
    """
    return check_many([ptl_path], runtime=runtime, python=python, timeout=timeout)[0]


import click  # noqa: E402


def _format_report(r: dict) -> str:
    status = "PASS" if r["passed"] else "FAIL"
    head = f"{status} {r['model']} in torch {r['runtime_torch'] or r['runtime']} lite interpreter " \
           f"(bytecode {r['bytecode_version']}, runtime accepts <= {r['runtime_max_bytecode']})"
    if r["comparison"]:
        c = r["comparison"]
        head += (f": max abs err {c['max_abs_err']:.2e}, max rel err {c['max_rel_err']:.2e}, "
                 f"min cosine {c['min_cosine']:.6f}, "
                 + ("unit-norm vectors " if r.get("task") == "embedding" else f"top-1 agreement {c['top1_agreement']:.1%} ")
                 + f"on {r['inputs']}" + (f", {r['engine']} engine" if r["quantized"] else ""))
    return head


def _jsonable(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj
