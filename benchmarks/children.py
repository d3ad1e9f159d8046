"""Child processes of run_benchmarks.py: one runtime, one configuration, one fresh process.

    python benchmarks/children.py eager SPEC_JSON   # timm PIL transform + eager PyTorch
    python benchmarks/children.py ort   SPEC_JSON   # PIL resize + numpy + ONNX Runtime fp32

Each prints one JSON line with the same raw figures as `edgepack bench`'s child
(`load_ms`, `first_inference_ms`, `timings_ms`, `peak_rss_mb`, ...); the parent computes the
statistics. The `.ptl` runs go through `edgepack.bench.bench_file` instead (its own child).

What one timed run covers, for every runtime: a uint8 [H, W, 3] frame in memory -> class
probabilities. Eager: `PIL.Image.fromarray` + timm's eval transform (resize, centre crop,
ToTensor, Normalize) + the network + softmax. ORT: `PIL.Image.fromarray` + PIL resize (the same
filter and size as timm's transform) + centre crop, scaling, normalisation and HWC->CHW in numpy
+ `session.run` + softmax in numpy. The `.ptl`: `module(frame)` (everything is inside the file).
"""
from __future__ import annotations

import json
import os
import sys
import time

from edgepack.reference import time_runs as _time_runs  # the matrix's reference rows time the same way


def frame(width: int, height: int, channels: int = 3):
    """The Android demo's benchmark frame (same bytes as edgepack.bench.synthetic_frame), numpy."""
    import numpy as np

    ys = np.arange(height, dtype=np.int64)
    xs = np.arange(width, dtype=np.int64)
    r = np.broadcast_to((xs * 255 // max(width - 1, 1))[None, :], (height, width))
    g = np.broadcast_to((ys * 255 // max(height - 1, 1))[:, None], (height, width))
    b = np.where((((xs >> 5)[None, :] + (ys >> 5)[:, None]) & 1) == 0, 32, 224)
    planes = [r, g, b] + ([np.full((height, width), 255)] if channels == 4 else [])
    return np.ascontiguousarray(np.stack(planes, axis=2).astype(np.uint8))


def _status_mb(key: str):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_eager(spec: dict) -> dict:
    import torch
    import timm
    from PIL import Image
    from timm.data import create_transform, resolve_data_config

    torch.set_num_threads(int(spec["threads"]))
    img = frame(spec["width"], spec["height"])
    reset = _reset_peak()
    before = _status_mb("VmRSS")
    t0 = time.perf_counter()
    torch.manual_seed(0)
    kwargs = {"num_classes": spec["num_classes"]} if spec.get("num_classes") else {}
    model = timm.create_model(spec["arch"], pretrained=False, **kwargs).eval()
    if spec.get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
    size = spec.get("input_size")
    transform = create_transform(**resolve_data_config({"input_size": (3, size, size)} if size else {}, model=model))
    load_ms = (time.perf_counter() - t0) * 1e3

    def once():
        with torch.inference_mode():
            x = transform(Image.fromarray(img)).unsqueeze(0)
            if spec.get("channels_last"):
                x = x.contiguous(memory_format=torch.channels_last)
            return torch.softmax(model(x), dim=-1)

    out, first, timings = _time_runs(once, spec["warmup"], spec["runs"])
    peak = _status_mb("VmHWM") if reset else None

    def pre_only():
        x = transform(Image.fromarray(img)).unsqueeze(0)
        return x.contiguous(memory_format=torch.channels_last) if spec.get("channels_last") else x

    def net_only(x):
        with torch.inference_mode():
            return torch.softmax(model(x), dim=-1)

    split = _breakdown(pre_only, net_only, spec.get("breakdown_runs", 0)) if spec.get("breakdown_runs") else {}
    return {"load_ms": load_ms, "first_inference_ms": first, "timings_ms": timings, **split,
            "peak_rss_mb": peak, "rss_before_load_mb": before,
            "output_shape": list(out.shape), "torch_version": torch.__version__,
            "torch_num_threads": torch.get_num_threads(), "transform": str(transform).replace("\n", " ")}


def run_ort(spec: dict) -> dict:
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    pre = spec["preprocess"]  # resize size, crop size, filter, mean, std (timm's data config)
    img = frame(spec["width"], spec["height"])
    reset = _reset_peak()
    before = _status_mb("VmRSS")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(spec["threads"])
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t0 = time.perf_counter()
    session = ort.InferenceSession(spec["onnx"], sess_options=opts, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    name = session.get_inputs()[0].name
    filters = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}
    resample = filters[pre["interpolation"]]
    crop_h, crop_w = pre["crop"]
    mean = np.asarray(pre["mean"], dtype=np.float32) * 255.0
    inv_std = 1.0 / (np.asarray(pre["std"], dtype=np.float32) * 255.0)

    def pre_only():
        pil = Image.fromarray(img)
        w, h = pil.size
        # timm/torchvision Resize(int): shorter side to `scale`, the other side keeps the aspect.
        scale = pre["scale"]
        if w <= h:
            size = (scale, int(scale * h / w))
        else:
            size = (int(scale * w / h), scale)
        arr = np.asarray(pil.resize(size, resample))
        top = int(round((arr.shape[0] - crop_h) / 2.0))
        left = int(round((arr.shape[1] - crop_w) / 2.0))
        arr = arr[top:top + crop_h, left:left + crop_w]
        x = ((arr.astype(np.float32) - mean) * inv_std).transpose(2, 0, 1)[None]
        return np.ascontiguousarray(x)

    def net_only(x):
        logits = session.run(None, {name: x})[0]
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def once():
        return net_only(pre_only())

    out, first, timings = _time_runs(once, spec["warmup"], spec["runs"])
    peak = _status_mb("VmHWM") if reset else None
    split = _breakdown(pre_only, net_only, spec.get("breakdown_runs", 0)) if spec.get("breakdown_runs") else {}
    return {"load_ms": load_ms, "first_inference_ms": first, "timings_ms": timings, **split,
            "peak_rss_mb": peak, "rss_before_load_mb": before,
            "output_shape": list(out.shape), "ort_version": ort.__version__,
            "intra_op_num_threads": opts.intra_op_num_threads}


def _breakdown(pre_fn, net_fn, runs: int) -> dict:
    """Median ms of the preprocessing and the network alone (after the end-to-end runs)."""
    import statistics

    x = pre_fn()
    pre, net = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        x = pre_fn()
        t1 = time.perf_counter()
        net_fn(x)
        t2 = time.perf_counter()
        pre.append((t1 - t0) * 1e3)
        net.append((t2 - t1) * 1e3)
    return {"pre_ms": statistics.median(pre), "net_ms": statistics.median(net)}


def main(argv) -> None:
    kind, spec = argv[0], json.loads(argv[1])
    result = {"eager": run_eager, "ort": run_ort}[kind](spec)
    result["omp_num_threads"] = os.environ.get("OMP_NUM_THREADS")
    result["omp_wait_policy"] = os.environ.get("OMP_WAIT_POLICY")
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
