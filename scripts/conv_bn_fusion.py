"""Reproduce the optimize_for_mobile conv/bn fusion problem edgepack works around.

    .venv/bin/python scripts/conv_bn_fusion.py [--out benchmarks/results/conv_bn_fusion.md]

A timm ResNet-18 with non-trivial (seeded, random) BatchNorm statistics, traced, then optimised
three ways: `optimize_for_mobile` as is; with its CONV_BN_FUSION pass blocked; and edgepack's
order, `torch.jit.freeze` (exact conv/bn folding) followed by `optimize_for_mobile`. Reports the
max error relative to the eager model, whether BatchNorm ops remain, and latency at 1 thread.
"""
import argparse
import pathlib
import sys
import time

import timm
import torch
from torch.utils.mobile_optimizer import MobileOptimizerType, optimize_for_mobile

from bn_stats import randomize_batchnorm  # scripts/ is on sys.path when run as a script


def latency_ms(module, x, runs: int = 20) -> float:
    with torch.no_grad():
        for _ in range(3):
            module(x)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            module(x)
            times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2] * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="benchmarks/results/conv_bn_fusion.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = timm.create_model("resnet18", pretrained=False, num_classes=10).eval()
    randomize_batchnorm(model)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        ref = model(x)
        traced = torch.jit.trace(model, x)
    variants = {
        "optimize_for_mobile": lambda: optimize_for_mobile(traced),
        "optimize_for_mobile, CONV_BN_FUSION blocked": lambda: optimize_for_mobile(
            traced, {MobileOptimizerType.CONV_BN_FUSION}),
        "freeze, then optimize_for_mobile (edgepack)": lambda: optimize_for_mobile(torch.jit.freeze(traced)),
    }
    lines = ["# optimize_for_mobile conv/bn fusion on ResNet-18 with non-trivial BatchNorm statistics", "",
             "Command: `.venv/bin/python scripts/conv_bn_fusion.py`  ",
             f"torch {torch.__version__}, 1 thread, 224x224 input, median of 20 runs.", "",
             "| optimisation | max rel err vs eager | BatchNorm ops left | latency ms |", "|---|---|---|---|"]
    for name, make in variants.items():
        module = make()
        with torch.no_grad():
            err = ((module(x) - ref).abs().max() / ref.abs().max()).item()
        bn = sum(1 for n in module.graph.nodes() if "batch_norm" in n.kind())
        lines.append(f"| {name} | {err:.1e} | {bn} | {latency_ms(module, x):.1f} |")
        print(lines[-1], flush=True)
    pathlib.Path(args.out).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
