#!/usr/bin/env python
"""edgepack vs eager PyTorch vs ONNX Runtime, end to end, on this machine, in one run.

    python benchmarks/run_benchmarks.py            # full run (<= 15 min on 2 cores), writes benchmarks/results/
    python benchmarks/run_benchmarks.py --quick    # reduced run (one model, 1 repetition, few runs)

For each model (random weights, `pretrained=False`: nothing is downloaded) it builds, with
`edgepack.build`, a float `.ptl` (channels-last, the XNNPACK default), a float `.ptl` without
channels-last, a dynamic-int8 and a static-int8 (qnnpack, calibrated on a generated shapes folder)
`.ptl`, exports ONNX (`torch.onnx.export`), and times, each configuration in its own fresh process,
a uint8 frame (1920x1080 by default) -> class probabilities with:

  eager        timm `create_transform` on a PIL image + eager PyTorch model + softmax
  ptl-float    the edgepack file in the lite interpreter (preprocessing inside the file)
  ptl-dynamic  same, dynamic int8
  ptl-static   same, static int8 (qnnpack, as on a phone)
  ort          PIL resize + numpy crop/normalise + ONNX Runtime fp32 (CPUExecutionProvider)
  ptl-float-nocl  the float file built with channels_last=False (channels-last effect)
  ptl-net      a float file built with `input="float"` (network + softmax, no preprocessing),
               to split the end-to-end time into preprocessing and network

at 1 and 2 threads where listed, plus a thread experiment on the XNNPACK-optimised float file of
the first model. Every configuration is repeated (`--reps`, interleaved so drifting machine load
spreads over all of them); a repetition's figure is the median of its timed runs, and the table
shows the median of the repetition medians with their min-max. Results (JSON, markdown, PNG)
go to --out with the machine description and this exact command. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

MODELS = ["mobilenetv3_small_100", "resnet18", "efficientnet_b0", "deit_tiny_patch16_224"]
VARIANTS = ["eager", "float", "dynamic", "static", "ort", "nocl", "net", "threads"]
RUNTIME_LABELS = {
    "eager": "eager PyTorch + timm PIL transform",
    "ptl-float": "edgepack .ptl float",
    "ptl-dynamic": "edgepack .ptl dynamic int8",
    "ptl-static": "edgepack .ptl static int8 (qnnpack)",
    "ort": "ONNX Runtime fp32 + PIL/numpy preprocessing",
    "ptl-float-nocl": "edgepack .ptl float, channels_last=False",
    "ptl-net": "edgepack .ptl float, --input float (network + softmax only)",
}
# The thread experiment: (label, threads, omp_threads, omp_wait_policy, omp_reapply, also at the
# big frame). 640x480 gets all of them; the main frame (1920x1080, where the bundled resize makes
# aten's OpenMP share larger) the three that matter for the defaults.
THREAD_CONFIGS = [
    ("1 thread, plain torch (OpenMP default)", 1, None, None, True, False),
    ("2 threads, plain torch (OpenMP 2, spinning)", 2, None, None, True, False),
    ("2 threads, OMP_WAIT_POLICY=PASSIVE (OpenMP 2)", 2, None, "PASSIVE", True, True),
    ("2 threads, OMP_NUM_THREADS=1 in env only", 2, 1, None, False, False),
    ("2 threads, OpenMP 1 (re-applied), spinning", 2, 1, None, True, False),
    ("2 threads, OpenMP 1 + PASSIVE (edgepack default)", 2, 1, "PASSIVE", True, True),
    ("1 thread, OpenMP 1 + PASSIVE (edgepack default)", 1, 1, "PASSIVE", True, True),
]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_size(value: str):
    w, h = (int(v) for v in value.lower().split("x"))
    return w, h


# ----------------------------------------------------------------------------------------------
# Machine
# ----------------------------------------------------------------------------------------------

def machine() -> dict:
    import numpy
    import torch

    cpu = None
    flags = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and cpu is None:
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = line.split(":", 1)[1]
    except OSError:
        pass
    try:
        import onnxruntime

        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = None
    try:
        import timm

        timm_version = timm.__version__
    except ImportError:
        timm_version = None
    from edgepack import __version__ as ep_version
    from edgepack.optimize import xnnpack_available

    mem_gb = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu or platform.processor() or platform.machine(),
        "logical_cpus": os.cpu_count(),
        "cpu_flags": [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "fma") if f" {f} " in f" {flags} "],
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch_version": torch.__version__,
        "torch_xnnpack": xnnpack_available(),
        "torch_parallel": next((l.split(":", 1)[1].strip() for l in torch.__config__.parallel_info().splitlines()
                                if l.startswith("ATen parallel backend")), None),
        "onnxruntime_version": ort_version,
        "timm_version": timm_version,
        "numpy_version": numpy.__version__,
        "edgepack_version": ep_version,
    }


def load_average():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def other_busy_processes() -> List[str]:
    """Other processes using CPU right now (the machine may be shared): 'pid %cpu command'."""
    try:
        out = subprocess.run(["ps", "-eo", "pid,pcpu,comm", "--sort=-pcpu"], capture_output=True, text=True,
                             timeout=10).stdout.splitlines()[1:]
    except (OSError, subprocess.SubprocessError):
        return []
    mine = {os.getpid()}
    busy = []
    for line in out:
        parts = line.split(None, 2)
        if len(parts) == 3 and int(parts[0]) not in mine and float(parts[1]) >= 20.0:
            busy.append(f"{parts[2]} ({parts[1]}% CPU)")
    return busy[:8]


# ----------------------------------------------------------------------------------------------
# Builds
# ----------------------------------------------------------------------------------------------

def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def build_variant(model: str, variant: str, work: pathlib.Path, calib: Optional[pathlib.Path], args) -> dict:
    from edgepack import BuildOptions, build

    out = work / f"{model}.{variant}.ptl"
    opts = dict(output=str(out), force=True, accept_mismatch=True, num_classes=args.num_classes,
                image_size=[args.input_size] if args.input_size else None)
    if variant == "nocl":
        opts["channels_last"] = False
    elif variant == "dynamic":
        opts["quantize"] = "dynamic"
    elif variant == "static":
        opts.update(quantize="static", calib=str(calib), calib_count=args.calib_count)
    elif variant == "net":
        opts["input"] = "float"
    if variant in ("dynamic", "static"):
        # Random weights give near-uniform outputs, whose top-1 class flips with any int8 error:
        # agreement with the float model means nothing here, and failing it would make the build
        # fall back to less optimised graphs. The optimiser's own fidelity check (cosine >= 0.99
        # against the quantized eager model) stays on.
        opts["min_agreement"] = 1e-6
    lines: List[str] = []
    t0 = time.perf_counter()
    try:
        result = build(f"timm:{model}", BuildOptions(**opts), report=lines.append)
    except Exception as exc:  # noqa: BLE001  (recorded: a failed build is a result too)
        return {"variant": variant, "ok": False, "error": _first_line(exc), "build_s": round(time.perf_counter() - t0, 1),
                "log_tail": lines[-4:], "exception": type(exc).__name__}
    m = result.manifest
    q = m.get("quantization") or {}
    v = m.get("validation") or {}
    return {
        "variant": variant, "ok": True, "path": result.output, "size_bytes": result.size_bytes,
        "build_s": round(time.perf_counter() - t0, 1), "optimizer": m.get("optimizer"),
        "channels_last": (m.get("preprocess") or {}).get("channels_last"),
        "quantization": {k: q.get(k) for k in ("mode", "engine", "compute_fraction", "params_fraction",
                                                 "quantized_modules", "float_module_count", "warning") if k in q},
        "validation": {k: v.get(k) for k in ("passed", "max_rel_err", "min_cosine", "top1_agreement") if k in v},
        "notes": result.notes,
    }


def export_onnx(model: str, work: pathlib.Path, args) -> dict:
    import torch
    import timm
    from timm.data import resolve_data_config

    out = work / f"{model}.onnx"
    t0 = time.perf_counter()
    try:
        torch.manual_seed(0)
        kwargs = {"num_classes": args.num_classes} if args.num_classes else {}
        net = timm.create_model(model, pretrained=False, **kwargs).eval()
        over = {"input_size": (3, args.input_size, args.input_size)} if args.input_size else {}
        cfg = resolve_data_config(over, model=net)
        size = cfg["input_size"][1:]
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, torch.zeros(1, 3, *size), str(out), dynamo=False, opset_version=17,
                              input_names=["input"], output_names=["logits"])
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": _first_line(exc), "export_s": round(time.perf_counter() - t0, 1)}
    crop_pct = cfg.get("crop_pct") or 0.875
    return {
        "ok": True, "path": str(out), "size_bytes": out.stat().st_size, "export_s": round(time.perf_counter() - t0, 1),
        "opset": 17, "exporter": "torch.onnx.export (TorchScript-based, dynamo=False)",
        "preprocess": {"interpolation": cfg["interpolation"] if cfg["interpolation"] in ("bilinear", "bicubic", "nearest")
                       else "bicubic", "scale": int(math.floor(size[0] / crop_pct)), "crop": list(size),
                       "mean": list(cfg["mean"]), "std": list(cfg["std"])},
    }


# ----------------------------------------------------------------------------------------------
# Measurements: each a fresh process
# ----------------------------------------------------------------------------------------------

def run_children_script(kind: str, spec: dict, env: dict, timeout: float) -> dict:
    cmd = [sys.executable, str(HERE / "children.py"), kind, json.dumps(spec)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=str(HERE))
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = [l for l in proc.stderr.splitlines() if l.strip()]
        raise RuntimeError(err[-1] if err else f"exit status {proc.returncode}")
    return json.loads(lines[-1])


def env_for(omp_threads, policy) -> dict:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    env.pop("OMP_WAIT_POLICY", None)
    if omp_threads is not None:
        env["OMP_NUM_THREADS"] = str(omp_threads)
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    return env


def measure(case: dict, args) -> dict:
    """One repetition of one case; raw figures (timings list) or an error."""
    from edgepack.bench import bench_file

    w, h = case["frame"]
    runs, warmup = case.get("runs", args.runs), case.get("warmup", args.warmup)
    try:
        if case["kind"] == "ptl":
            r = bench_file(case["path"], threads=case["threads"], runs=runs, warmup=warmup, image=(w, h),
                           omp_threads=case.get("omp_threads", 1), omp_wait_policy=case.get("omp_wait_policy", "PASSIVE"),
                           omp_reapply=case.get("omp_reapply", True), timeout=args.timeout)
            return {k: r.get(k) for k in ("timings_ms", "load_ms", "first_inference_ms", "peak_rss_mb",
                                          "omp_max_threads", "torch_num_threads", "xnnpack_ops", "quantized_engine")}
        spec = {"threads": case["threads"], "width": w, "height": h, "runs": runs, "warmup": warmup}
        env = env_for(case["threads"], "PASSIVE")
        if case["kind"] == "eager":
            spec.update(arch=case["model"], breakdown_runs=case.get("breakdown_runs", 0),
                        channels_last=False, num_classes=args.num_classes, input_size=args.input_size)
        elif case["kind"] == "ort":
            spec.update(onnx=case["path"], preprocess=case["preprocess"], breakdown_runs=case.get("breakdown_runs", 0))
        return run_children_script(case["kind"], spec, env, args.timeout)
    except Exception as exc:  # noqa: BLE001
        return {"error": _first_line(exc)}


def percentile(values: List[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=float), q))


def aggregate(case: dict, reps: List[dict]) -> dict:
    ok = [r for r in reps if "error" not in r and r.get("timings_ms")]
    out = {k: case[k] for k in ("id", "model", "runtime", "threads", "frame", "group") if k in case}
    out["label"] = case.get("label") or RUNTIME_LABELS.get(case["runtime"], case["runtime"])
    out.update({k: case[k] for k in ("omp_threads", "omp_wait_policy", "omp_reapply") if k in case})
    out["repetitions"] = len(ok)
    errors = sorted({r["error"] for r in reps if "error" in r})
    if errors:
        out["errors"] = errors
    if not ok:
        return out
    medians = [statistics.median(r["timings_ms"]) for r in ok]
    pooled = [t for r in ok for t in r["timings_ms"]]
    rnd = lambda v: None if v is None else round(float(v), 3)  # noqa: E731
    med = lambda key: rnd(statistics.median([r[key] for r in ok if r.get(key) is not None])) \
        if any(r.get(key) is not None for r in ok) else None  # noqa: E731
    out.update({
        "median_ms": rnd(statistics.median(medians)),
        "rep_medians_ms": [rnd(m) for m in medians],
        "spread_min_ms": rnd(min(medians)), "spread_max_ms": rnd(max(medians)),
        "p90_ms": rnd(percentile(pooled, 90)), "min_ms": rnd(min(pooled)),
        "runs_per_rep": len(ok[0]["timings_ms"]),
        "load_ms": med("load_ms"), "first_inference_ms": med("first_inference_ms"),
        "peak_rss_mb": med("peak_rss_mb"), "pre_ms": med("pre_ms"), "net_ms": med("net_ms"),
    })
    for key in ("omp_max_threads", "xnnpack_ops", "quantized_engine"):
        if ok[0].get(key) is not None:
            out[key] = ok[0][key]
    return out


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------

def _fmt(v, digits=1):
    return "—" if v is None else f"{v:.{digits}f}"


def _ms(r: Optional[dict]) -> str:
    if not r or r.get("median_ms") is None:
        return "failed" if r and r.get("errors") else "—"
    return f"{r['median_ms']:.1f} [{r['spread_min_ms']:.1f}–{r['spread_max_ms']:.1f}]"


def ratios(results: List[dict], models: List[str], threads_list: List[int]) -> List[dict]:
    by = {(r["model"], r["runtime"], r["threads"]): r for r in results if r.get("group") == "main"}
    rows = []
    for m in models:
        for n in threads_list:
            def get(rt):
                r = by.get((m, rt, n))
                return r.get("median_ms") if r else None
            eager, flt, ort = get("eager"), get("ptl-float"), get("ort")
            dyn, sta = get("ptl-dynamic"), get("ptl-static")
            int8 = min([v for v in (dyn, sta) if v is not None], default=None)
            int8_kind = None if int8 is None else ("static" if int8 == sta else "dynamic")
            if eager is None and flt is None:
                continue
            row = {"model": m, "threads": n, "eager_ms": eager, "ptl_float_ms": flt, "ort_ms": ort,
                   "ptl_int8_ms": int8, "int8_kind": int8_kind}
            div = lambda a, b: None if a is None or b is None or b == 0 else round(a / b, 3)  # noqa: E731
            row["float_vs_eager"] = div(flt, eager)        # goal < 1
            row["dynamic_vs_eager"] = div(dyn, eager)
            row["static_vs_eager"] = div(sta, eager)
            row["int8_vs_eager"] = div(int8, eager)        # goal <= 0.5 (the faster int8 file)
            row["float_vs_ort"] = div(flt, ort)            # goal <= 1.2
            row["int8_vs_ort"] = div(int8, ort)
            row["goal_float_faster_than_eager"] = None if row["float_vs_eager"] is None else row["float_vs_eager"] < 1
            row["goal_int8_half_of_eager"] = None if row["int8_vs_eager"] is None else row["int8_vs_eager"] <= 0.5
            row["goal_within_1_2x_ort"] = None if row["float_vs_ort"] is None else row["float_vs_ort"] <= 1.2
            rows.append(row)
    return rows


def _yes(v):
    return "—" if v is None else ("yes" if v else "**no**")


def markdown(doc: dict) -> str:
    mc, res = doc["machine"], doc["results"]
    main = [r for r in res if r.get("group") == "main"]
    w, h = doc["settings"]["frame"]
    L = [
        f"# edgepack benchmark results{' (quick run)' if doc['settings']['quick'] else ''}",
        "",
        f"- **Command:** `{doc['command']}`",
        f"- **When:** {doc['started']} (wall time {doc['wall_s']:.0f} s)",
        f"- **Machine:** {mc['cpu']}, {mc['logical_cpus']} logical CPUs "
        f"({', '.join(mc['cpu_flags']) or 'no AVX2'}), {mc['memory_gb']} GB; {mc['os']}",
        f"- **Software:** torch {mc['torch_version']} (XNNPACK: {mc['torch_xnnpack']}, aten parallel: "
        f"{mc['torch_parallel']}), onnxruntime {mc['onnxruntime_version']}, timm {mc['timm_version']}, "
        f"numpy {mc['numpy_version']}, Python {mc['python']}, edgepack {mc['edgepack_version']}",
        f"- **Load:** load average {doc['load_average_start']} at start, {doc['load_average_end']} at end"
        + (f"; other busy processes at start: {', '.join(doc['busy_at_start'])}" if doc["busy_at_start"] else ""),
    ]
    if doc.get("shared_machine"):
        L.append("- **The machine was shared** with other jobs during this run: absolute numbers are noisy, "
                 "2-thread numbers most of all; compare within a row group and look at the spread.")
    L += [
        f"- **Input:** a uint8 {w}x{h}x3 frame in memory (the Android demo's synthetic test pattern) → class "
        "probabilities; random weights (`pretrained=False`), 1000 classes unless stated.",
        f"- **Method:** each configuration in its own fresh process, {doc['settings'].get('reps_done', doc['settings']['reps'])} "
        f"repetition(s) (interleaved; {doc['settings']['reps']} planned), each {doc['settings']['runs']} timed runs after {doc['settings']['warmup']} warm-up; "
        "a cell is the median of the repetition medians with [min–max of the repetition medians], in ms.",
        "- **Threads:** `.ptl`: `torch.set_num_threads(N)` (XNNPACK's pool), OpenMP held at 1 thread, "
        "`OMP_WAIT_POLICY=PASSIVE` (edgepack bench defaults); eager: `torch.set_num_threads(N)`, "
        "`OMP_NUM_THREADS=N`, PASSIVE; ORT: `intra_op_num_threads=N`, sequential execution.",
        "",
        "## Latency, end to end (ms)",
        "",
    ]
    models = doc["settings"]["models"]
    cols = [("eager", 1), ("ptl-float", 1), ("ptl-dynamic", 1), ("ptl-static", 1), ("ort", 1),
            ("eager", 2), ("ptl-float", 2), ("ort", 2)]
    cols = [c for c in cols if any(r["runtime"] == c[0] and r["threads"] == c[1] for r in main)]
    names = {"eager": "eager+PIL", "ptl-float": ".ptl float", "ptl-dynamic": ".ptl dyn int8",
             "ptl-static": ".ptl static int8", "ort": "ORT fp32"}
    by = {(r["model"], r["runtime"], r["threads"]): r for r in main}
    builds = doc["builds"]
    variant_of = {"ptl-float": "float", "ptl-dynamic": "dynamic", "ptl-static": "static"}

    def cell(m, rt, n):
        text = _ms(by.get((m, rt, n)))
        b = builds.get(m, {}).get(variant_of.get(rt, ""), {})
        if b.get("ok") and (b.get("optimizer") or {}).get("dropped"):
            text += " †"
        if rt in variant_of and b and not b.get("ok"):
            text = "build failed"
        return text

    L.append("| model | " + " | ".join(f"{names[c[0]]} {c[1]}T" for c in cols) + " |")
    L.append("|---|" + "---|" * len(cols))
    for m in models:
        L.append(f"| {m} | " + " | ".join(cell(m, c[0], c[1]) for c in cols) + " |")
    L += ["", "† the build dropped optimisation passes because the optimised file failed validation (see Builds); "
          "\"build failed\": see Builds for the reason."]
    L += ["", "Load time, first inference, peak memory and p90 at 1 thread:", "",
          "| model | runtime | load ms | first ms | p90 ms | peak RSS MB | file MB |", "|---|---|---|---|---|---|---|"]
    for m in models:
        for rt in ("eager", "ptl-float", "ptl-dynamic", "ptl-static", "ort"):
            r = by.get((m, rt, 1))
            if not r or r.get("median_ms") is None:
                continue
            size = None
            key = {"ptl-float": "float", "ptl-dynamic": "dynamic", "ptl-static": "static"}.get(rt)
            if key and builds.get(m, {}).get(key, {}).get("ok"):
                size = builds[m][key]["size_bytes"] / 1e6
            if rt == "ort" and builds.get(m, {}).get("onnx", {}).get("ok"):
                size = builds[m]["onnx"]["size_bytes"] / 1e6
            L.append(f"| {m} | {names[rt]} | {_fmt(r.get('load_ms'))} | {_fmt(r.get('first_inference_ms'))} | "
                     f"{_fmt(r.get('p90_ms'))} | {_fmt(r.get('peak_rss_mb'), 0)} | {_fmt(size, 2)} |")
    L += ["", "Peak RSS is the child's VmHWM from after its imports (model + runs, with the runtime's resident "
          "libraries: torch's CUDA-enabled wheel alone is ~500 MB resident, onnxruntime ~70 MB).", ""]

    rows = doc["ratios"]
    if rows:
        L += ["## Ratios against the goals", "",
              "| model | threads | .ptl float / eager (goal < 1) | dyn int8 / eager | static int8 / eager | "
              "best int8 / eager (goal ≤ 0.5) | .ptl float / ORT (goal ≤ 1.2) | best int8 / ORT |",
              "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            f = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
            L.append(f"| {r['model']} | {r['threads']} | {f(r['float_vs_eager'])} ({_yes(r['goal_float_faster_than_eager'])}) | "
                     f"{f(r.get('dynamic_vs_eager'))} | {f(r.get('static_vs_eager'))} | "
                     f"{f(r['int8_vs_eager'])} {('(' + r['int8_kind'] + ') ') if r['int8_kind'] else ''}"
                     f"({_yes(r['goal_int8_half_of_eager'])}) | {f(r['float_vs_ort'])} ({_yes(r['goal_within_1_2x_ort'])}) | "
                     f"{f(r['int8_vs_ort'])} |")
        L.append("")

    bd = [r for r in res if r.get("group") == "breakdown"]
    if bd or any(r.get("pre_ms") is not None for r in main):
        L += ["## Where the time goes (1 thread, ms, medians)", "",
              "| model | eager: PIL+transform | eager: network | ORT: PIL+numpy | ORT: network | "
              ".ptl: end to end | .ptl: network alone (`--input float` file) | .ptl: preprocessing (difference) |",
              "|---|---|---|---|---|---|---|---|"]
        for m in models:
            e, o, p = by.get((m, "eager", 1)) or {}, by.get((m, "ort", 1)) or {}, by.get((m, "ptl-float", 1)) or {}
            net = next((r for r in bd if r["model"] == m), {})
            pre = None if net.get("median_ms") is None or p.get("median_ms") is None else p["median_ms"] - net["median_ms"]
            L.append(f"| {m} | {_fmt(e.get('pre_ms'))} | {_fmt(e.get('net_ms'))} | {_fmt(o.get('pre_ms'))} | "
                     f"{_fmt(o.get('net_ms'))} | {_fmt(p.get('median_ms'))} | {_fmt(net.get('median_ms'))} | {_fmt(pre)} |")
        L.append("")

    L += [f"## Issue 3: {w}×{h} frame, `.ptl` end to end vs PIL resize + timm transform + eager model", "",
          "| model | threads | eager + PIL (ms) | .ptl float (ms) | .ptl / eager |", "|---|---|---|---|---|"]
    for m in models:
        for n in doc["settings"]["threads"]:
            e, p = by.get((m, "eager", n)), by.get((m, "ptl-float", n))
            if e and p and e.get("median_ms") and p.get("median_ms"):
                L.append(f"| {m} | {n} | {_ms(e)} | {_ms(p)} | {p['median_ms'] / e['median_ms']:.2f} |")
    L.append("")

    cl = [(m, by.get((m, "ptl-float", 1)), by.get((m, "ptl-float-nocl", 1))) for m in models]
    cl = [c for c in cl if c[2]]
    if cl:
        L += ["## channels-last on XNNPACK-optimised files (1 thread)", "",
              "| model | channels_last=True (default) | channels_last=False | True / False |", "|---|---|---|---|"]
        for m, a, b in cl:
            ratio = (a["median_ms"] / b["median_ms"]) if a and b and a.get("median_ms") and b.get("median_ms") else None
            L.append(f"| {m} | {_ms(a)} | {_ms(b)} | {_fmt(ratio, 2)} |")
        L.append("")

    th = [r for r in res if r.get("group") == "threads"]
    if th:
        L += [f"## Thread settings: XNNPACK-optimised float file of {th[0]['model']}", "",
              "| frame | configuration | OpenMP threads seen | median ms [min–max] | p90 ms | vs 1 thread default |",
              "|---|---|---|---|---|---|"]
        for fr in sorted({tuple(r["frame"]) for r in th}):
            rows_f = [r for r in th if tuple(r["frame"]) == fr]
            base = next((r for r in rows_f if r["label"].startswith("1 thread, OpenMP 1")), None)
            for r in rows_f:
                rel = (r["median_ms"] / base["median_ms"]) if base and base.get("median_ms") and r.get("median_ms") else None
                L.append(f"| {fr[0]}x{fr[1]} | {r['label']} | {r.get('omp_max_threads', '—')} | {_ms(r)} | "
                         f"{_fmt(r.get('p90_ms'))} | {_fmt(rel, 2)}x |")
        L.append("")

    L += ["## Builds", "", "| model | variant | ok | size MB | build s | optimizer | validation | quantization | error / note |",
          "|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        for variant, b in builds.get(m, {}).items():
            if variant == "onnx":
                L.append(f"| {m} | onnx | {'yes' if b['ok'] else '**no**'} | {_fmt(b.get('size_bytes', 0) / 1e6, 2)} | "
                         f"{_fmt(b.get('export_s'))} | — | — | — | {b.get('error', '')} |")
                continue
            if not b.get("ok"):
                L.append(f"| {m} | {variant} | **no** | — | {_fmt(b.get('build_s'))} | — | — | — | {b.get('error', '')} |")
                continue
            opt = b.get("optimizer") or {}
            q = b.get("quantization") or {}
            v = b.get("validation") or {}
            qtxt = q.get("mode", "none")
            if q.get("compute_fraction") is not None:
                qtxt += f", {q['compute_fraction']:.0%} of conv/linear compute"
            vtxt = ("passed" if v.get("passed") else "**failed** (kept)") + (
                f", top-1 agreement {v['top1_agreement']:.0%}" if v.get("top1_agreement") is not None else "")
            note = "; ".join(n for n in b.get("notes", []) if "random weights" not in n)[:400]
            L.append(f"| {m} | {variant} | yes | {b['size_bytes'] / 1e6:.2f} | {b['build_s']:.1f} | "
                     f"{opt.get('path')}{' −' + ','.join(opt.get('dropped', [])) if opt.get('dropped') else ''} | "
                     f"{vtxt} | {qtxt} | {note} |")
    L += ["", "Validation of random-weight models compares near-uniform outputs, so it says little here "
          "(int8 top-1 agreement on random weights is often low); that is expected for a speed benchmark.", ""]
    errs = [r for r in res if r.get("errors")]
    if errs:
        L += ["## Failed measurements", ""]
        for r in errs:
            L.append(f"- {r['model']} {r['runtime']} {r['threads']}T: {'; '.join(r['errors'])}")
        L.append("")
    if doc.get("notes"):
        L += ["## Notes", ""] + [f"- {n}" for n in doc["notes"]] + [""]
    return "\n".join(L)


def plot(doc: dict, path: pathlib.Path) -> Optional[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib not installed: no plot (pip install -r benchmarks/requirements.txt)"
    main = [r for r in doc["results"] if r.get("group") == "main" and r.get("median_ms") is not None]
    models = [m for m in doc["settings"]["models"] if any(r["model"] == m for r in main)]
    if not models:
        return "nothing to plot"
    series = [("eager", 1, "eager + PIL"), ("ptl-float", 1, ".ptl float"), ("ptl-dynamic", 1, ".ptl dyn int8"),
              ("ptl-static", 1, ".ptl static int8"), ("ort", 1, "ORT fp32"),
              ("eager", 2, "eager + PIL, 2T"), ("ptl-float", 2, ".ptl float, 2T"), ("ort", 2, "ORT fp32, 2T")]
    series = [s for s in series if any(r["runtime"] == s[0] and r["threads"] == s[1] for r in main)]
    by = {(r["model"], r["runtime"], r["threads"]): r for r in main}
    fig, axes = plt.subplots(1, len(models), figsize=(max(9.0, 3.0 * len(models) + 1.5), 4.8), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, m in zip(axes[0], models):
        for i, (rt, n, label) in enumerate(series):
            r = by.get((m, rt, n))
            if not r:
                continue
            v = r["median_ms"]
            err = [[v - r["spread_min_ms"]], [r["spread_max_ms"] - v]]
            ax.bar(i, v, yerr=err, color=colors[i % len(colors)], label=label, capsize=2,
                   hatch="//" if n == 2 else None, edgecolor="black", linewidth=0.4)
        ax.set_title(m, fontsize=9)
        ax.set_xticks([])
        ax.set_yscale("log")
        ax.set_ylabel("ms (log scale), uint8 frame → probabilities" if m == models[0] else "")
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8, frameon=False)
    w, h = doc["settings"]["frame"]
    fig.suptitle(f"End-to-end latency, {w}x{h} uint8 frame → probabilities; median of repetition medians "
                 f"(whiskers: min–max)\n{doc['machine']['cpu']}, {doc['machine']['logical_cpus']} logical CPUs, "
                 f"torch {doc['machine']['torch_version']}, onnxruntime {doc['machine']['onnxruntime_version']}"
                 + (" (shared)" if doc.get("shared_machine") else ""), fontsize=9)
    fig.tight_layout(rect=(0, 0.1, 1, 0.92))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="reduced run: first model only, 1 repetition, few runs")
    p.add_argument("--models", help=f"comma-separated timm names (default: {','.join(MODELS)}; --quick: the first)")
    p.add_argument("--variants", help=f"comma-separated subset of {','.join(VARIANTS)} (default: all)")
    p.add_argument("--threads", default="1,2", help="thread counts of the main table (default 1,2)")
    p.add_argument("--frame", default="1920x1080", help="input frame WxH (default 1920x1080)")
    p.add_argument("--reps", type=int, help="repetitions per configuration (default 3; --quick 1)")
    p.add_argument("--runs", type=int, help="timed runs per repetition (default 12; --quick 3)")
    p.add_argument("--warmup", type=int, help="warm-up runs per repetition (default 3; --quick 1)")
    p.add_argument("--num-classes", type=int, help="class count of the models (default: timm's, 1000)")
    p.add_argument("--input-size", type=int, help="network input size (default: the model's data config)")
    p.add_argument("--calib-count", type=int, default=16, help="calibration images for static int8 (default 16)")
    p.add_argument("--out", default=str(HERE / "results"), help="results folder (default benchmarks/results)")
    p.add_argument("--work", help="folder for the built files (default: a temporary folder, removed)")
    p.add_argument("--budget-s", type=float, default=870.0,
                   help="start no repetition that would end after this many seconds (default 870)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per measured process")
    p.add_argument("--report-only", metavar="RESULTS_JSON",
                   help="measure nothing: rewrite results.md/.png in --out from a saved results.json")
    args = p.parse_args(argv)
    if args.report_only:
        doc = json.loads(pathlib.Path(args.report_only).read_text())
        out_dir = pathlib.Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        write_outputs(doc, out_dir)
        return 0

    started_wall = time.time()
    t_start = time.perf_counter()
    models = args.models.split(",") if args.models else (MODELS[:1] if args.quick else MODELS)
    variants = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        p.error(f"unknown variants: {', '.join(sorted(unknown))}")
    threads_list = [int(t) for t in args.threads.split(",")]
    args.reps = args.reps or (1 if args.quick else 3)
    args.runs = args.runs or (3 if args.quick else 12)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    frame = parse_size(args.frame)
    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(args.work) if args.work else pathlib.Path(tempfile.mkdtemp(prefix="edgepack-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    import torch

    torch.set_num_threads(1)  # builds run in this process: one thread avoids the OpenMP/XNNPACK contention
    load_start, busy_start = load_average(), other_busy_processes()
    exe = os.path.relpath(sys.executable)
    exe = sys.executable if exe.startswith("..") else exe
    script = os.path.relpath(__file__)
    doc = {"command": shlex.join([exe, script] + (sys.argv[1:] if argv is None else list(argv))),
           "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started_wall)),
           "machine": machine(), "load_average_start": load_start, "busy_at_start": busy_start,
           "settings": {"quick": args.quick, "models": models, "variants": variants, "threads": threads_list,
                        "frame": list(frame), "reps": args.reps, "runs": args.runs, "warmup": args.warmup,
                        "num_classes": args.num_classes, "input_size": args.input_size,
                        "calib_count": args.calib_count},
           "builds": {}, "results": [], "notes": []}
    log(f"edgepack benchmarks: {', '.join(models)}; variants {', '.join(variants)}; work folder {work}")
    try:
        calib = None
        if "static" in variants:
            import shapes

            calib = shapes.generate(work / "calib", count_per_class=max(2, math.ceil(args.calib_count / len(shapes.CLASSES))),
                                    seed=0)
        for m in models:
            doc["builds"][m] = {}
            for variant in ("float", "nocl", "dynamic", "static", "net"):
                if variant != "float" and variant not in variants:
                    continue
                if variant == "float" and not ({"float", "threads"} & set(variants)):
                    continue
                log(f"  build {m} {variant} ...")
                b = build_variant(m, variant, work, calib, args)
                doc["builds"][m][variant] = b
                log(f"    {'ok' if b['ok'] else 'FAILED: ' + b['error']} ({b['build_s']} s)")
            if "ort" in variants:
                log(f"  export {m} onnx ...")
                doc["builds"][m]["onnx"] = export_onnx(m, work, args)
                b = doc["builds"][m]["onnx"]
                log(f"    {'ok' if b['ok'] else 'FAILED: ' + b['error']} ({b['export_s']} s)")
        build_s = time.perf_counter() - t_start
        log(f"builds done in {build_s:.0f} s")

        cases: List[dict] = []

        def add(**case):
            case.setdefault("frame", frame)
            case.setdefault("group", "main")
            case["id"] = f"{case['model']}/{case['runtime']}/{case['threads']}T/{case['group']}/{len(cases)}"
            cases.append(case)

        for m in models:
            b = doc["builds"][m]
            for n in threads_list:
                bd = max(2, args.runs // 2) if n == 1 else 0
                if "eager" in variants:
                    add(model=m, runtime="eager", kind="eager", threads=n, breakdown_runs=bd)
                if "float" in variants and b.get("float", {}).get("ok"):
                    add(model=m, runtime="ptl-float", kind="ptl", threads=n, path=b["float"]["path"])
                if "ort" in variants and b.get("onnx", {}).get("ok"):
                    add(model=m, runtime="ort", kind="ort", threads=n, path=b["onnx"]["path"],
                        preprocess=b["onnx"]["preprocess"], breakdown_runs=bd)
                if n != 1:
                    continue
                for variant, rt in (("dynamic", "ptl-dynamic"), ("static", "ptl-static"), ("nocl", "ptl-float-nocl")):
                    if variant in variants and b.get(variant, {}).get("ok"):
                        add(model=m, runtime=rt, kind="ptl", threads=1, path=b[variant]["path"])
                if "net" in variants and b.get("net", {}).get("ok"):
                    add(model=m, runtime="ptl-net", kind="ptl", threads=1, path=b["net"]["path"], group="breakdown")
        if "threads" in variants and doc["builds"][models[0]].get("float", {}).get("ok"):
            path = doc["builds"][models[0]]["float"]["path"]
            exp_frames = [(640, 480)] + ([frame] if frame != (640, 480) and not args.quick else [])
            for fr in exp_frames:
                for label, n, omp, policy, reapply, big in THREAD_CONFIGS:
                    if fr != (640, 480) and not big:
                        continue
                    add(model=models[0], runtime="ptl-float", kind="ptl", threads=n, path=path, group="threads",
                        frame=fr, label=label, omp_threads=omp, omp_wait_policy=policy, omp_reapply=reapply,
                        runs=min(args.runs, 6 if n == 1 else 4), warmup=min(args.warmup, 1))

        raw: Dict[str, List[dict]] = {c["id"]: [] for c in cases}
        doc["settings"]["reps_done"] = 0
        for rep in range(args.reps):
            elapsed = time.perf_counter() - t_start
            per_rep = (elapsed - build_s) / rep if rep else 0.0
            if rep > 0 and elapsed + per_rep > args.budget_s:
                doc["notes"].append(f"stopped after {rep} repetition(s) of {args.reps}: time budget {args.budget_s:.0f} s")
                log(doc["notes"][-1])
                break
            for i, case in enumerate(cases):
                r = measure(case, args)
                raw[case["id"]].append(r)
                tag = r.get("error") or f"median {statistics.median(r['timings_ms']):.1f} ms"
                log(f"  rep {rep + 1}/{args.reps} [{i + 1}/{len(cases)}] {case['model']} {case.get('label') or case['runtime']} "
                    f"{case['threads']}T {case['frame'][0]}x{case['frame'][1]}: {tag}")
            doc["settings"]["reps_done"] = rep + 1
        doc["results"] = [aggregate(c, raw[c["id"]]) for c in cases]
        doc["raw"] = {c["id"]: [{k: v for k, v in r.items() if k != "transform"} for r in raw[c["id"]]] for c in cases}
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)

    doc["ratios"] = ratios(doc["results"], models, threads_list)
    doc["load_average_end"] = load_average()
    doc["wall_s"] = round(time.perf_counter() - t_start, 1)
    ncpu = os.cpu_count() or 1
    loads = [v for v in (load_start or [])[:1] + (doc["load_average_end"] or [])[:1]]
    doc["shared_machine"] = bool(busy_start) or any(v > 0.5 * ncpu for v in loads)
    if doc["shared_machine"]:
        doc["notes"].append("machine shared with other jobs during the run (see load average / busy processes)")
    write_outputs(doc, out_dir)
    return 0


def write_outputs(doc: dict, out_dir: pathlib.Path) -> None:
    """results.json, results.png (when matplotlib is there) and results.md in out_dir."""
    doc["ratios"] = ratios(doc["results"], doc["settings"]["models"], doc["settings"]["threads"])
    doc["notes"] = [n for n in doc.get("notes", []) if not n.startswith("matplotlib")]
    problem = plot(doc, out_dir / "results.png")
    if problem:
        doc["notes"].append(problem)
    (out_dir / "results.json").write_text(json.dumps(doc, indent=1, sort_keys=True))
    md = markdown(doc)
    if not problem:
        md += "\n![latency](results.png)\n"
    (out_dir / "results.md").write_text(md)
    log(f"wrote {out_dir / 'results.json'}, {out_dir / 'results.md'}" + ("" if problem else f", {out_dir / 'results.png'}")
        + f" (run wall time {doc['wall_s']:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
