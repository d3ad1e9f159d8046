"""Reference rows for `edgepack matrix`: the pipeline a user would write without edgepack, timed the
same way as a packaged file.

- `eager`: the source model in eager PyTorch (loaded by edgepack's own loaders, so it is exactly
  the model that was packaged), preprocessed per frame with PIL by timm's eval transform with the
  packaged file's preprocessing config, then softmax (sigmoid for multi-label models).
- `ort`: the same model exported to ONNX (TorchScript exporter, opset 17) run by ONNX Runtime's CPU
  provider, with PIL resize + numpy crop/normalise. Only when onnxruntime (and onnx) are installed.

Each measurement runs in a fresh process (`python -m edgepack.reference KIND SPEC`), like
`edgepack bench`: same synthetic frame, warm-up and run counts, thread count, and the same raw
figures (`load_ms`, `first_inference_ms`, `timings_ms`, `peak_rss_mb`); the parent summarises them
with `bench.summarize`. `load_ms` is loading the model (checkpoint + timm model, or the ONNX
session), not importing the libraries.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Optional

ONNX_OPSET = 17


def ort_available() -> bool:
    """Whether the ONNX Runtime row can be measured here (onnx exports, onnxruntime runs)."""
    from importlib.util import find_spec

    return find_spec("onnxruntime") is not None and find_spec("onnx") is not None


# ----------------------------------------------------------------------------------------------
# Child side
# ----------------------------------------------------------------------------------------------

def _load_model(spec: dict):
    from .sources import load_source

    src = load_source(spec["source"], **spec.get("source_options", {}))
    return src.model.eval()


def _frame(spec: dict):
    from .bench import synthetic_frame

    w, h = spec["image"]
    return synthetic_frame(w, h, 3).numpy()


def time_runs(fn, warmup: int, runs: int):
    """(first output, first-call ms, [timed ms]): one call, `warmup` untimed, `runs` timed each on
    its own (also used by benchmarks/children.py)."""
    t0 = time.perf_counter()
    out = fn()
    first = (time.perf_counter() - t0) * 1e3
    for _ in range(warmup):
        fn()
    timings = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - t0) * 1e3)
    return out, first, timings


def _peak_figures(reset: bool, before: Optional[float]) -> dict:
    from .bench import _proc_status_mb, _rss_mb

    peak = _proc_status_mb("VmHWM") if reset else None
    return {"peak_rss_mb": peak if peak is not None else _rss_mb(), "rss_before_load_mb": before}


def timm_eval_transform(cfg: dict):
    """timm's eval transform (PIL in, normalised tensor out) for a manifest's `preprocess` section."""
    from timm.data import create_transform

    return create_transform(input_size=tuple(cfg["input_size"]), interpolation=cfg["interpolation"],
                            crop_pct=cfg["crop_pct"], crop_mode=cfg["crop_mode"], mean=tuple(cfg["mean"]),
                            std=tuple(cfg["std"]), is_training=False)


def _pil_resize_crop(cfg: dict):
    """The PIL part of timm's eval transform (resize and crop or pad, before ToTensor/Normalize),
    so the ONNX Runtime row resizes exactly as timm does and normalises in numpy."""
    from torchvision import transforms

    steps = [t for t in timm_eval_transform(cfg).transforms
             if not isinstance(t, transforms.Normalize) and "ToTensor" not in type(t).__name__]
    return transforms.Compose(steps)


def _activation(spec: dict):
    import torch

    return torch.sigmoid if spec.get("activation") == "sigmoid" else (lambda t: torch.softmax(t, dim=-1))


def measure_eager(spec: dict) -> dict:
    import torch
    from PIL import Image

    from .bench import _proc_status_mb, _reset_peak_rss

    from . import checkpoints, sources  # noqa: F401  (imported before the timed load, like torch)

    torch.set_num_threads(int(spec["threads"]))
    img = _frame(spec)
    reset = _reset_peak_rss()
    before = _proc_status_mb("VmRSS")
    t0 = time.perf_counter()
    model = _load_model(spec)
    cfg = spec["preprocess"]
    transform = timm_eval_transform(cfg)
    load_ms = (time.perf_counter() - t0) * 1e3
    act = _activation(spec)

    def once():
        with torch.inference_mode():
            return act(model(transform(Image.fromarray(img)).unsqueeze(0)))

    out, first, timings = time_runs(once, int(spec["warmup"]), int(spec["runs"]))
    return {"load_ms": load_ms, "first_inference_ms": first, "timings_ms": timings, **_peak_figures(reset, before),
            "output_shape": list(out.shape[1:]), "torch_version": torch.__version__,
            "runtime": f"eager PyTorch {torch.__version__} + PIL (timm eval transform)"}


def export_onnx(spec: dict) -> dict:
    import torch

    model = _load_model(spec)
    _, h, w = spec["preprocess"]["input_size"]
    tmp = spec["onnx"] + f".{os.getpid()}.tmp"
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 3, h, w), tmp, dynamo=False, opset_version=ONNX_OPSET,
                          input_names=["input"], output_names=["logits"])
    os.replace(tmp, spec["onnx"])
    return {"onnx": spec["onnx"], "size_bytes": os.path.getsize(spec["onnx"])}


def measure_ort(spec: dict) -> dict:
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    from .bench import _proc_status_mb, _reset_peak_rss

    cfg = spec["preprocess"]
    img = _frame(spec)
    reset = _reset_peak_rss()
    before = _proc_status_mb("VmRSS")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(spec["threads"])
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    t0 = time.perf_counter()
    session = ort.InferenceSession(spec["onnx"], sess_options=opts, providers=["CPUExecutionProvider"])
    load_ms = (time.perf_counter() - t0) * 1e3
    name = session.get_inputs()[0].name
    resize_crop = _pil_resize_crop(cfg)
    mean = np.asarray(cfg["mean"], dtype=np.float32) * 255.0
    inv_std = 1.0 / (np.asarray(cfg["std"], dtype=np.float32) * 255.0)
    sigmoid = spec.get("activation") == "sigmoid"

    def preprocess():
        arr = np.asarray(resize_crop(Image.fromarray(img)), dtype=np.float32)
        return np.ascontiguousarray(((arr - mean) * inv_std).transpose(2, 0, 1)[None])

    def once():
        logits = session.run(None, {name: preprocess()})[0]
        if sigmoid:
            return 1.0 / (1.0 + np.exp(-logits))
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    out, first, timings = time_runs(once, int(spec["warmup"]), int(spec["runs"]))
    return {"load_ms": load_ms, "first_inference_ms": first, "timings_ms": timings, **_peak_figures(reset, before),
            "output_shape": list(out.shape[1:]), "runtime": f"ONNX Runtime {ort.__version__} CPU + PIL/numpy"}


CHILDREN = {"eager": measure_eager, "ort": measure_ort, "export-onnx": export_onnx}


def child_main(argv) -> None:
    kind, spec = argv[0], json.loads(argv[1])
    result = CHILDREN[kind](spec)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------------------------------
# Parent side
# ----------------------------------------------------------------------------------------------

def run_reference_child(kind: str, spec: dict, env: Optional[dict] = None, timeout: float = 900.0) -> dict:
    """One reference step in a fresh interpreter; EdgepackError with the child's last error line."""
    from .errors import EdgepackError

    cmd = [sys.executable, "-m", "edgepack.reference", kind, json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise EdgepackError(f"the {kind} reference did not finish within {timeout:.0f} s") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        raise EdgepackError(f"the {kind} reference failed ({(err[-1] if err else f'exit {proc.returncode}')[:200]})")
    return json.loads(lines[-1])


if __name__ == "__main__":
    child_main(sys.argv[1:])
