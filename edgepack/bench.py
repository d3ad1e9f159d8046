"""`edgepack bench`: latency, load time and memory of `.ptl` (lite interpreter) and `.pte`
(ExecuTorch) files, side by side.

Every configuration (thread count) runs in a **fresh child process**: the lite interpreter's
thread pools, the allocator and the peak-RSS counter all start clean, and one configuration's
threads cannot disturb the next one's. The child imports nothing but torch (this file is loaded
in it by path, outside the `edgepack` package), loads the file with
`torch.jit.mobile._load_for_lite_interpreter`, and measures, in the order the Android demo's
benchmark screen uses (android_demo/README.md, "Benchmark"):

1. `load_ms`: loading the file (torch itself is imported before, untimed);
2. `first_inference_ms`: the first forward call (one-time allocations, XNNPACK setup);
3. `warmup` untimed calls;
4. `runs` timed calls, each timed on its own; `p50_ms`/`p90_ms`/`p99_ms` are numpy's default
   (linear) percentiles, as in the app.

Input: what the manifest says. An image-input file gets a deterministic synthetic uint8
`[H, W, C]` frame (the app's test image: red ramps left to right, green top to bottom, a 32-pixel
blue checkerboard), 640x480 by default like the app, `--image WxH` to change it (`--channels 4`
for the RGBA layout the app hands over). A tensor-input file gets a seeded normal tensor of the
manifest's shape.

Threads (details and measurements in benchmarks/README.md): desktop torch runs aten ops on
OpenMP and XNNPACK ops (the prepacked convolutions/linears of an optimised file) on a separate
pthreadpool; a phone's lite runtime has one pool for both. With several threads the two pools
spin against each other on desktop. Defaults mimic the phone: `torch.set_num_threads(N)` sizes
XNNPACK's pool, OpenMP is held at one thread (`OMP_NUM_THREADS=1`, re-applied after
`set_num_threads`, which would otherwise raise it to N) and waits passively
(`OMP_WAIT_POLICY=PASSIVE`). `--omp-threads auto --omp-wait-policy auto` gives plain torch
behaviour instead.
"""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
from typing import List, Optional, Sequence, Tuple

import click

DEFAULT_IMAGE = (640, 480)  # (W, H), as the Android demo's benchmark screen
DEFAULT_RUNS = 50
DEFAULT_WARMUP = 5
DEFAULT_OMP_THREADS = "1"
DEFAULT_OMP_WAIT_POLICY = "passive"
DEFAULT_TIMEOUT_S = 900.0
QUANT_ENGINES = ("auto", "qnnpack", "x86", "fbgemm", "onednn")

# The fields of every result; the Android demo emits the first ten under the same names.
FIELDS = [
    "load_ms", "first_inference_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "runs", "warmup",
    "threads", "peak_rss_mb", "file_size_bytes", "torch_version",
    "max_ms", "std_ms", "rss_before_load_mb", "peak_rss_delta_mb", "peak_rss_scope", "model", "model_sha256", "input_kind", "input_shape",
    "input_dtype", "omp_num_threads", "omp_wait_policy", "omp_max_threads", "torch_num_threads",
    "xnnpack_ops", "xnnpack_operators", "quantization", "quantized_engine", "optimizer", "parallel_backend",
    "runtime", "cpu", "edgepack_version", "task", "output",
]


# ----------------------------------------------------------------------------------------------
# Child side: imports torch only. Runs as `python -c _BOOT <this file> <spec>`, see run_child.
# ----------------------------------------------------------------------------------------------

def synthetic_frame(width: int, height: int, channels: int = 3):
    """The Android demo's benchmark frame (core/TestImage.java), as a uint8 [H, W, C] tensor."""
    import torch

    ys = torch.arange(height, dtype=torch.int64)
    xs = torch.arange(width, dtype=torch.int64)
    r = (xs * 255 // max(width - 1, 1)).view(1, width).expand(height, width)
    g = (ys * 255 // max(height - 1, 1)).view(height, 1).expand(height, width)
    b = torch.where((((xs >> 5).view(1, width) + (ys >> 5).view(height, 1)) & 1) == 0, 32, 224)
    planes = [r, g, b] + ([torch.full((height, width), 255, dtype=torch.int64)] if channels == 4 else [])
    return torch.stack(planes, dim=2).to(torch.uint8).contiguous()


def _libgomp():
    """ctypes handle of the OpenMP runtime torch loaded, or None (e.g. a non-OpenMP build)."""
    import ctypes

    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "libgomp" in line or "libiomp" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.omp_get_max_threads.restype = ctypes.c_int
            return lib
        except (OSError, AttributeError):
            continue
    return None


def _rss_mb() -> float:
    import resource

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return kb / (1024.0 * 1024.0) if sys.platform == "darwin" else kb / 1024.0


def _proc_status_mb(key: str) -> Optional[float]:
    """VmRSS (current) or VmHWM (peak) of this process, MB; None where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (VmHWM; Linux >= 4.0), so that the peak from now on
    is that of loading and running the model, not of `import torch` (CUDA-enabled wheels map
    hundreds of MB while importing)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _load_pte(path: str, threads: int):
    """(module-like callable, [operators]) for a .pte in ExecuTorch's runtime, with its own thread
    pool sized to `threads` (ExecuTorch's pool is separate from torch's OpenMP pool)."""
    from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
    from executorch.runtime import Runtime

    _unsafe_reset_threadpool(threads)
    program = Runtime.get().load_program(path)
    method = program.load_method("forward")
    return (lambda x: method.execute([x])[0]), program


def child_measure(spec: dict) -> dict:
    """Load, run and time one configuration in this (fresh) process; returns raw figures."""
    import torch

    threads = int(spec["threads"])
    is_pte = spec.get("format") == "pte"
    if is_pte:
        import executorch.runtime  # noqa: F401  (imported before the timed load, like torch)
    torch.set_num_threads(threads)
    # at::get_num_threads() (it is omp_get_max_threads() under OpenMP) also runs aten's lazy
    # per-thread init, which would otherwise reset OpenMP to N at the first parallel op.
    torch_threads = torch.get_num_threads()
    gomp = _libgomp()
    if spec.get("omp_threads") is not None and spec.get("omp_reapply", True) and gomp is not None:
        # torch.set_num_threads(N) also called omp_set_num_threads(N): put OpenMP back.
        gomp.omp_set_num_threads(int(spec["omp_threads"]))
    engine = spec.get("engine")
    if engine:
        torch.backends.quantized.engine = engine
    inp = spec["input"]
    if inp["kind"] == "image":
        h, w, c = inp["shape"]
        x = synthetic_frame(w, h, c)
    else:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(*inp["shape"], generator=gen)
    import_peak = _rss_mb()
    reset = _reset_peak_rss()
    rss_before = _proc_status_mb("VmRSS") if reset else import_peak

    t0 = time.perf_counter()
    if is_pte:
        module, _ = _load_pte(spec["path"], threads)
    else:
        from torch.jit.mobile import _load_for_lite_interpreter

        module = _load_for_lite_interpreter(spec["path"])
    load_ms = (time.perf_counter() - t0) * 1e3
    timings: List[float] = []
    with torch.no_grad():
        t0 = time.perf_counter()
        out = module(x)
        first_ms = (time.perf_counter() - t0) * 1e3
        for _ in range(int(spec["warmup"])):
            module(x)
        for _ in range(int(spec["runs"])):
            t0 = time.perf_counter()
            module(x)
            timings.append((time.perf_counter() - t0) * 1e3)
    # ru_maxrss of a child also holds the parent's peak (the kernel carries the old address
    # space's high-water mark over exec), so the figure is VmHWM of this process, reset above.
    ru_maxrss = _rss_mb()
    hwm = _proc_status_mb("VmHWM") if reset else None
    peak = hwm if hwm is not None else ru_maxrss
    if is_pte:
        ops, xnn = [], ["XnnpackBackend delegate"] if spec.get("delegated") else []
    else:
        from torch.jit.mobile import _export_operator_list

        ops = sorted(_export_operator_list(module))
        xnn = [op for op in ops if op.startswith("prepacked::")]
    out_t = out[0] if isinstance(out, (tuple, list)) else out
    return {
        "load_ms": load_ms,
        "first_inference_ms": first_ms,
        "timings_ms": timings,
        "peak_rss_mb": peak,
        "rss_before_load_mb": rss_before,
        "import_peak_rss_mb": import_peak,
        "ru_maxrss_mb": ru_maxrss,
        "peak_rss_reset": reset,
        "torch_version": torch.__version__,
        "executorch_version": _dist_version("executorch") if is_pte else None,
        "torch_num_threads": torch_threads,
        "omp_max_threads": int(gomp.omp_get_max_threads()) if gomp is not None else None,
        "quantized_engine": torch.backends.quantized.engine,
        "xnnpack_ops": bool(xnn),
        "xnnpack_operators": xnn,
        "operators": ops,
        "output_shape": list(out_t.shape) if hasattr(out_t, "shape") else None,
        "output_finite": bool(torch.isfinite(out_t).all()) if hasattr(out_t, "shape") else None,
        "parallel_backend": next((line.split(":", 1)[1].strip() for line in torch.__config__.parallel_info().splitlines()
                                  if line.startswith("ATen parallel backend")), None),
    }


def _dist_version(name: str) -> Optional[str]:
    from importlib.metadata import version

    try:
        return version(name)
    except Exception:  # not installed
        return None


def child_main(argv: Sequence[str]) -> None:
    spec = json.loads(argv[0])
    result = child_measure(spec)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()


# Loads this file by path under another name, so the child imports neither the edgepack package
# (and its timm/lightning imports, which would inflate the memory figures) nor anything that
# sys.path[0] would shadow (edgepack/inspect.py vs the stdlib's inspect).
_BOOT = (
    "import sys\n"
    "sys.path[:] = [p for p in sys.path if p not in ('', '.')]\n"
    "import importlib.util as u\n"
    "s = u.spec_from_file_location('_edgepack_bench_child', sys.argv[1])\n"
    "m = u.module_from_spec(s); s.loader.exec_module(m)\n"
    "m.child_main(sys.argv[2:])\n"
)


# ----------------------------------------------------------------------------------------------
# Parent side
# ----------------------------------------------------------------------------------------------

def cpu_description() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} logical CPUs)"
    except OSError:
        pass
    import platform

    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} logical CPUs)"


def parse_threads(values: Sequence[str]) -> List[int]:
    """`--threads 1 --threads 2` or `--threads 1,2` -> [1, 2] (order kept, duplicates dropped)."""
    out: List[int] = []
    for value in values:
        for part in str(value).replace(" ", ",").split(","):
            if not part:
                continue
            try:
                n = int(part)
            except ValueError:
                raise click.BadParameter(f"expected thread counts like 1 or 1,2; got '{value}'",
                                         param_hint="--threads") from None
            if n < 1:
                raise click.BadParameter(f"thread counts must be >= 1, got {n}", param_hint="--threads")
            if n not in out:
                out.append(n)
    return out or [1]


def parse_image(value: str) -> Tuple[int, int]:
    """'640x480' -> (640, 480) as (W, H)."""
    parts = str(value).lower().replace("*", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise click.BadParameter(f"expected WxH like 640x480, got '{value}'", param_hint="--image") from None
    if w < 1 or h < 1:
        raise click.BadParameter(f"expected positive sizes, got '{value}'", param_hint="--image")
    return w, h


def model_format(path) -> str:
    from .formats import format_of_file

    return format_of_file(path)


def _check_model(path) -> dict:
    from .errors import EdgepackError

    if model_format(path) == "pte":
        from .formats.pte import read_manifest

        manifest = read_manifest(path, verify=True)
    else:
        from .inspect import open_artifact
        from .integrity import verify_ptl
        from .manifest import check_manifest

        manifest = open_artifact(path)  # missing / not a zip / full-JIT / not bytecode -> EdgepackError
        if manifest is not None:
            check_manifest(manifest, path, "ptl")  # the .pte reader checks its own
        verify_ptl(path, manifest)  # a damaged file -> EdgepackError
    if manifest is None:
        raise EdgepackError(f"{path}: has no edgepack.json manifest, so its input is unknown; "
                            "build it with 'edgepack build'")
    if not isinstance(manifest.get("input"), dict) or manifest["input"].get("kind") not in ("image", "tensor"):
        raise EdgepackError(f"{path}: manifest has no usable input spec (input.kind image or tensor)")
    return manifest


def input_spec(manifest: dict, image: Tuple[int, int], channels: int, path="") -> dict:
    from .errors import EdgepackError

    spec = manifest["input"]
    if spec["kind"] == "tensor":
        shape = [int(s) for s in spec.get("shape", [])]
        if not shape:
            raise EdgepackError(f"{path}: manifest input has no shape")
        return {"kind": "tensor", "shape": shape, "dtype": spec.get("dtype", "float32")}
    w, h = image
    lo, hi = int(spec.get("min_side", 1)), int(spec.get("max_side", 1 << 30))
    if min(w, h) < lo or max(w, h) > hi:
        raise EdgepackError(f"--image {w}x{h}: the model accepts sides {lo}..{hi}")
    allowed = spec.get("channels", [3, 4])
    if channels not in allowed:
        raise EdgepackError(f"--channels {channels}: the model accepts {allowed}")
    return {"kind": "image", "shape": [h, w, channels], "dtype": "uint8"}


def child_env(omp_threads: Optional[int], omp_wait_policy: Optional[str], base: Optional[dict] = None) -> dict:
    env = dict(os.environ if base is None else base)
    if omp_threads is not None:
        env["OMP_NUM_THREADS"] = str(omp_threads)
    if omp_wait_policy is not None:
        env["OMP_WAIT_POLICY"] = omp_wait_policy.upper()
    return env


def summarize(raw: dict) -> dict:
    """Statistics of the timed runs (numpy's default, linear-interpolation percentiles)."""
    import numpy as np

    t = np.asarray(raw["timings_ms"], dtype=np.float64)
    if t.size == 0:
        return {k: None for k in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "max_ms", "std_ms")}
    r = lambda v: round(float(v), 3)  # noqa: E731  (microseconds, like the app)
    return {
        "p50_ms": r(np.percentile(t, 50)), "p90_ms": r(np.percentile(t, 90)), "p99_ms": r(np.percentile(t, 99)),
        "mean_ms": r(t.mean()), "min_ms": r(t.min()), "max_ms": r(t.max()), "std_ms": r(t.std()),
    }


def _sha256(path) -> str:
    # Imported here: the benchmark child runs this file by path, outside the package.
    from .files import sha256_file

    return sha256_file(path)


def run_child(spec: dict, env: dict, timeout: float = DEFAULT_TIMEOUT_S) -> dict:
    """Run one configuration in a fresh interpreter; EdgepackError with the child's reason on failure."""
    from .errors import EdgepackError

    cmd = [sys.executable, "-c", _BOOT, str(pathlib.Path(__file__).resolve()), json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                              cwd=str(pathlib.Path(spec["path"]).parent))
    except subprocess.TimeoutExpired:
        raise EdgepackError(f"{spec['path']}: benchmark did not finish within {timeout:.0f} s") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        reason = err[-1] if err else f"exit status {proc.returncode}"
        runtime = "ExecuTorch" if spec.get("format") == "pte" else "the lite interpreter"
        raise EdgepackError(f"{spec['path']}: {runtime} failed on it ({reason[:200]})")
    return json.loads(lines[-1])


def bench_file(path, threads: int = 1, runs: int = DEFAULT_RUNS, warmup: int = DEFAULT_WARMUP,
               image: Tuple[int, int] = DEFAULT_IMAGE, channels: int = 3, omp_threads: Optional[int] = 1,
               omp_wait_policy: Optional[str] = DEFAULT_OMP_WAIT_POLICY, engine: Optional[str] = "auto",
               timeout: float = DEFAULT_TIMEOUT_S, manifest: Optional[dict] = None, omp_reapply: bool = True) -> dict:
    """Benchmark one configuration of `path` in a fresh process; returns the result record.

    omp_threads / omp_wait_policy None leave OpenMP as torch sets it (same thread count as
    `threads`, the environment's wait policy). omp_reapply False only sets OMP_NUM_THREADS in the
    environment, which torch.set_num_threads then overrides (for the thread experiments). engine "auto": the quantized engine the file was
    built and validated for (the manifest's), i.e. qnnpack for mobile builds.
    """
    from . import __version__
    from .errors import EdgepackError

    path = pathlib.Path(path)
    manifest = manifest if manifest is not None else _check_model(path)
    if runs < 1 or warmup < 0 or threads < 1:
        raise EdgepackError("runs and threads must be >= 1, warmup >= 0")
    quant = manifest.get("quantization") or {}
    fmt = model_format(path)
    if fmt == "pte":
        engine = None  # int8 in a .pte runs on XNNPACK's kernels, not on a torch quantized engine
    elif engine == "auto":
        engine = quant.get("engine") if quant.get("mode") not in (None, "none") else None
    optimizer = manifest.get("optimizer") or {}
    spec = {"path": str(path.resolve()), "threads": threads, "runs": runs, "warmup": warmup, "format": fmt,
            "delegated": bool(optimizer.get("delegated_ops")),
            "input": input_spec(manifest, image, channels, path), "engine": engine, "omp_threads": omp_threads,
            "omp_reapply": omp_reapply}
    raw = run_child(spec, child_env(omp_threads, omp_wait_policy), timeout)
    from .manifest import check_output

    check_output(raw.get("output_shape") or [], manifest, path)  # a manifest copied onto another model
    env = child_env(omp_threads, omp_wait_policy)
    result = {
        "load_ms": round(raw["load_ms"], 3),
        "first_inference_ms": round(raw["first_inference_ms"], 3),
        **summarize(raw),
        "runs": runs,
        "warmup": warmup,
        "threads": threads,
        "peak_rss_mb": round(raw["peak_rss_mb"], 1),
        "rss_before_load_mb": round(raw["rss_before_load_mb"], 1),
        "peak_rss_delta_mb": round(raw["peak_rss_mb"] - raw["rss_before_load_mb"], 1),
        "peak_rss_scope": ("VmHWM of the child, reset after `import torch`: load + runs, torch's resident "
                           "libraries included" if raw["peak_rss_reset"]
                           else "ru_maxrss of the child (includes `import torch` and the parent's peak)"),
        "file_size_bytes": path.stat().st_size,
        "torch_version": raw["torch_version"],
        "model": path.name,
        "model_sha256": _sha256(path),
        "input_kind": spec["input"]["kind"],
        "input_shape": spec["input"]["shape"],
        "input_dtype": spec["input"]["dtype"],
        "task": manifest.get("task"),
        "output": f"{(manifest.get('output') or {}).get('kind')} {(manifest.get('output') or {}).get('shape')}",
        "omp_num_threads": env.get("OMP_NUM_THREADS"),
        "omp_wait_policy": env.get("OMP_WAIT_POLICY"),
        "omp_max_threads": raw["omp_max_threads"],
        "torch_num_threads": raw["torch_num_threads"],
        "xnnpack_ops": raw["xnnpack_ops"],
        "xnnpack_operators": raw["xnnpack_operators"],
        "quantization": quant.get("mode", "none"),
        "quantized_engine": raw["quantized_engine"] if quant.get("mode") not in (None, "none") else None,
        "optimizer": (manifest.get("optimizer") or {}).get("path"),
        "parallel_backend": raw["parallel_backend"],
        "format": fmt,
        "runtime": (f"ExecuTorch {raw.get('executorch_version')} (Python bindings, desktop, one process per "
                    "configuration)" if fmt == "pte" else
                    f"torch {raw['torch_version']} lite interpreter (desktop, one process per configuration)"),
        "cpu": cpu_description(),
        "edgepack_version": __version__,
        "timings_ms": [round(t, 3) for t in raw["timings_ms"]],
    }
    if raw.get("output_finite") is False:
        result["warning"] = "the model produced non-finite outputs"
    return result


def bench(path, threads: Sequence[int] = (1,), **kwargs) -> List[dict]:
    """`bench_file` for each thread count, one fresh process each, in order."""
    manifest = _check_model(path)
    return [bench_file(path, threads=n, manifest=manifest, **kwargs) for n in threads]


def _scalar_fields(results: Sequence[dict]) -> List[str]:
    names = [f for f in FIELDS if any(f in r for r in results)]
    extra = sorted({k for r in results for k, v in r.items() if k not in FIELDS and not isinstance(v, (list, dict))})
    return names + extra


def to_csv(results: Sequence[dict]) -> str:
    import csv
    import io

    fields = _scalar_fields(results)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in results:
        writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in fields})
    return buf.getvalue()


def format_results(results: Sequence[dict]) -> str:
    """One block per file; several files get a side-by-side summary table first."""
    models = list(dict.fromkeys(r["model_path"] if "model_path" in r else r["model"] for r in results))
    if len(models) == 1:
        return _format_one(results)
    lines = [f"{'file':<28} {'format':>6} {'threads':>7} {'size MB':>8} {'load':>8} {'first':>8} {'p50':>8} "
             f"{'p90':>8} {'peak RSS':>9}   (ms, MB)"]
    for r in results:
        lines.append(f"{r['model'][:28]:<28} {r.get('format', 'ptl'):>6} {r['threads']:>7} "
                     f"{r['file_size_bytes'] / 1e6:>8.2f} {r['load_ms']:>8.2f} {r['first_inference_ms']:>8.2f} "
                     f"{r['p50_ms']:>8.2f} {r['p90_ms']:>8.2f} {r['peak_rss_mb']:>9.1f}")
    blocks = [_format_one([r for r in results if r.get("model_path", r["model"]) == m]) for m in models]
    return "\n".join(lines) + "\n\n" + "\n\n".join(blocks)


def _format_one(results: Sequence[dict]) -> str:
    first = results[0]
    lines = [
        f"{first['model']}  ({first['file_size_bytes'] / 1e6:.2f} MB, quantization {first['quantization']}, "
        f"optimizer {first['optimizer']}, XNNPACK ops: {'yes' if first['xnnpack_ops'] else 'no'})",
        f"input {first['input_kind']} {first['input_dtype']} {first['input_shape']}, output {first.get('output')} "
        f"(task {first.get('task')}); {first['runtime']}; "
        f"{first['cpu']}",
        f"OMP_NUM_THREADS={first['omp_num_threads'] or '(unset)'} OMP_WAIT_POLICY={first['omp_wait_policy'] or '(unset)'}"
        f"{'; quantized engine ' + first['quantized_engine'] if first['quantized_engine'] else ''}",
        "",
        f"{'threads':>7} {'load':>9} {'first':>9} {'p50':>9} {'p90':>9} {'p99':>9} {'mean':>9} {'min':>9} "
        f"{'peak RSS':>9}   (ms, MB; {first['runs']} runs after {first['warmup']} warm-up)",
    ]
    for r in results:
        lines.append(f"{r['threads']:>7} {r['load_ms']:>9.2f} {r['first_inference_ms']:>9.2f} {r['p50_ms']:>9.2f} "
                     f"{r['p90_ms']:>9.2f} {r['p99_ms']:>9.2f} {r['mean_ms']:>9.2f} {r['min_ms']:>9.2f} "
                     f"{r['peak_rss_mb']:>9.1f}")
    return "\n".join(lines)


def _omp_threads_option(value: str) -> Optional[int]:
    if str(value).lower() == "auto":
        return None
    try:
        n = int(value)
    except ValueError:
        raise click.BadParameter(f"expected a thread count or 'auto', got '{value}'", param_hint="--omp-threads") from None
    if n < 1:
        raise click.BadParameter("must be >= 1 or 'auto'", param_hint="--omp-threads")
    return n


@click.command()
@click.argument("models", nargs=-1, required=True, type=click.Path())
@click.option("--threads", "threads", multiple=True, default=("1",), show_default=True,
              help="torch.set_num_threads(N) (XNNPACK's pool); repeat or give '1,2' for several, each in its own process.")
@click.option("--runs", type=click.IntRange(1), default=DEFAULT_RUNS, show_default=True, help="Timed runs.")
@click.option("--warmup", type=click.IntRange(0), default=DEFAULT_WARMUP, show_default=True,
              help="Untimed runs after the first inference.")
@click.option("--image", default=f"{DEFAULT_IMAGE[0]}x{DEFAULT_IMAGE[1]}", show_default=True,
              help="Frame size WxH for image-input files (the Android demo's default).")
@click.option("--channels", type=click.Choice(["3", "4"]), default="3", show_default=True,
              help="Frame channels: 3 (RGB) or 4 (RGBA, as the Android app passes).")
@click.option("--omp-threads", default=DEFAULT_OMP_THREADS, show_default=True,
              help="OpenMP threads for aten ops (OMP_NUM_THREADS in the child); 'auto' = torch's (same as --threads).")
@click.option("--omp-wait-policy", type=click.Choice(["passive", "active", "auto"], case_sensitive=False),
              default=DEFAULT_OMP_WAIT_POLICY, show_default=True,
              help="OMP_WAIT_POLICY in the child; 'auto' leaves the environment's (libgomp spins by default).")
@click.option("--engine", type=click.Choice(QUANT_ENGINES), default="auto", show_default=True,
              help="Quantized engine; auto = the one the file was validated for (qnnpack for mobile).")
@click.option("--timeout", type=click.FloatRange(1), default=DEFAULT_TIMEOUT_S, show_default=True,
              help="Seconds per configuration.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON document: an object (one file, one --threads value) or a list of objects.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV: a header and one row per configuration.")
def bench_command(models, threads, runs, warmup, image, channels, omp_threads, omp_wait_policy, engine, timeout,
                  as_json, as_csv):
    """Measure load time, latency percentiles and memory of MODELS (.ptl in the lite interpreter, .pte in
    ExecuTorch), each configuration in a fresh process, one after the other; several files are
    reported side by side."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv exclude each other")
    counts = parse_threads(threads)
    size = parse_image(image)
    omp = _omp_threads_option(omp_threads)
    policy = None if omp_wait_policy.lower() == "auto" else omp_wait_policy.upper()
    # An EdgepackError is reported (one line; with --json an error document) by the CLI group.
    manifests = [_check_model(model) for model in models]  # every file checked before any run
    results = []
    for model, manifest in zip(models, manifests):
        for n in counts:
            if not (as_json or as_csv):
                click.echo(f"edgepack: benchmarking {model} with {n} thread(s)...", err=True)
            result = bench_file(model, threads=n, runs=runs, warmup=warmup, image=size, channels=int(channels),
                                omp_threads=omp, omp_wait_policy=policy, engine=engine, timeout=timeout,
                                manifest=manifest)
            result["model_path"] = str(model)
            results.append(result)
    if as_json:
        doc = results[0] if len(results) == 1 else results
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
    elif as_csv:
        click.echo(to_csv(results), nl=False)
    else:
        click.echo(format_results(results))
