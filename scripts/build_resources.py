"""Peak memory and time of `edgepack build` for larger models, float and quantized.

    .venv/bin/python scripts/build_resources.py [--out benchmarks/results/build_resources.md]

Each build runs as its own `python -m edgepack build` process; its peak resident set comes from
`getrusage(RUSAGE_CHILDREN)` in a fresh wrapper process. "torch itself" is the peak of a process
that imports torch, timm, Lightning and edgepack's build code and creates nothing; the extra memory
a build needs is its peak minus that, reported as a multiple of the model's float weight size.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import timm

MEASURE = ("import resource, subprocess, sys, time; t=time.perf_counter(); "
           "p=subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True); "
           "err=[l for l in p.stderr.splitlines() if l.startswith('edgepack: error')]; "
           "print(p.returncode, time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
           "print(err[-1] if err else '')")
BASELINE = "import torch, timm, pytorch_lightning, edgepack.package, edgepack.quantize"
# Static int8 of a random-weight ResNet-50 calibrates activation scales outside QNNPACK's range
# for quantized adds (the build refuses it for --target mobile), so that row targets x86.
CASES = [("resnet50", None, "mobile"), ("resnet50", "dynamic", "mobile"), ("resnet50", "static", "x86"),
         ("vit_small_patch16_224", None, "mobile"), ("vit_small_patch16_224", "dynamic", "mobile")]


def peak(cmd) -> tuple:
    """(exit code, seconds, peak RSS MB, the error line if it failed) of `cmd` in a fresh process."""
    out = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, check=True).stdout
    first, _, error = out.partition("\n")
    rc, seconds, kb = first.split()
    return int(rc), float(seconds), int(kb) / 1024, error.strip()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="benchmarks/results/build_resources.md")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "examples"))
    import shapes

    _, _, base_mb, _ = peak([sys.executable, "-c", BASELINE])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        calib = shapes.generate(pathlib.Path(tmp) / "calib", count_per_class=6, seed=5)
        for arch, quant, target in CASES:
            model = timm.create_model(arch, pretrained=False)
            float_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
            del model
            cmd = [sys.executable, "-m", "edgepack", "build", f"timm:{arch}", "-o", f"{tmp}/{arch}.ptl", "--force"]
            if quant:
                cmd += ["--quantize", quant, "--target", target,
                        "--min-agreement", "0"]  # random weights: agreement is not the point
                if quant == "static":
                    cmd += ["--calib", str(calib), "--calib-count", "16"]
            rc, seconds, peak_mb, error = peak(cmd)
            row = {"model": arch, "quantize": quant or "none", "target": target, "exit": rc, "error": error, "seconds": round(seconds, 1),
                   "peak_rss_mb": round(peak_mb), "torch_baseline_mb": round(base_mb), "float_weights_mb": round(float_mb, 1),
                   "extra_mb": round(peak_mb - base_mb), "extra_over_float": round((peak_mb - base_mb) / float_mb, 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    lines = ["# Build resources", "",
             f"Command: `.venv/bin/python scripts/build_resources.py`  ",
             f"Baseline (python + torch + timm + Lightning + edgepack imported, nothing built): {base_mb:.0f} MB peak RSS.",
             "", "| model | quantize | target | exit | time s | peak RSS MB | extra over baseline MB | float weights MB | extra / float |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['quantize']} | {r['target']} | {r['exit']} | {r['seconds']} | {r['peak_rss_mb']} | "
                     f"{r['extra_mb']} | {r['float_weights_mb']} | {r['extra_over_float']}x |")
    lines += [f"\n{r['model']} {r['quantize']}: {r['error']}" for r in rows if r["exit"]]
    lines += ["", "Random weights (no downloads here); the static row targets x86 because a random-weight ResNet-50's "
              "activation scales fall outside QNNPACK's range for quantized adds, which the build refuses for "
              "--target mobile. The x86 engine keeps int8 weights twice, so its row is the highest. What remains at "
              "the peak: the model (or, during static quantization, the model and torch.fx's fused copy) plus the "
              "optimised or lite-loaded module with its prepacked weights; the build drops its in-memory models "
              "before optimising and reloads the pipeline for each optimisation level (edgepack/optimize.py)."]
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
