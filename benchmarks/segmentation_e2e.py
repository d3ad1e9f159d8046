"""End to end on a 1920x1080 frame at 1 thread: the packaged segmenter vs the usual eager pipeline.

    .venv/bin/python benchmarks/segmentation_e2e.py examples/shapes_segmenter.ckpt \
        --out benchmarks/results/segmentation_e2e.md

Both sides start from the same decoded uint8 RGB frame and end with the class mask at the frame's
resolution:
- packaged: the `.ptl` / `.pte` that `edgepack build` writes (resize, normalise, network, logits
  upsampled to the frame, argmax: all inside the file), run by the lite interpreter / ExecuTorch;
- eager, written the usual way: PIL resize (bilinear, squash to the network size), numpy
  normalisation, the float network in eager PyTorch, `F.interpolate` of the logits to the frame
  and `argmax`.
Each side runs in its own fresh process with OMP_NUM_THREADS=1 and torch.set_num_threads(1)
(DESIGN.md, "Threads"), one after the other, never two at once. Reported: p50/p90 of the timed
runs after warm-up, and the mask pixel agreement of each file with the eager mask.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def frame(height: int = 1080, width: int = 1920):
    """A deterministic photo-like frame: a shapes scene drawn at full size."""
    import random

    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT / "examples"))
    import shapes

    img, _ = shapes.draw_scene("star", random.Random(7), (width, height))
    return torch.from_numpy(np.asarray(img).copy())


def child(kind: str, path: str, out: str, warmup: int, runs: int) -> None:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image

    from edgepack.reference import time_runs

    torch.set_num_threads(1)
    image = frame()
    if kind in ("eager", "eager-cl"):
        from edgepack.sources import load_source

        src = load_source(path)
        cfg = src.data_config
        size = (int(cfg["input_size"][-1]), int(cfg["input_size"][-2]))
        mean = np.array(cfg["mean"], np.float32)
        std = np.array(cfg["std"], np.float32)
        net = src.model.eval()

        def run():
            with torch.no_grad():
                pil = Image.fromarray(image.numpy()).resize(size, Image.BILINEAR)
                x = (np.asarray(pil, dtype=np.float32) / 255.0 - mean) / std
                logits = net(torch.from_numpy(x).permute(2, 0, 1)[None])
                if kind == "eager-cl":  # the argmax over classes then reads each pixel's scores contiguously
                    logits = logits.contiguous(memory_format=torch.channels_last)
                up = F.interpolate(logits, size=image.shape[:2], mode="bilinear", align_corners=False)
                return up[0].argmax(0).to(torch.uint8)
    else:
        from edgepack.predict import open_model

        _, _, module = open_model(path)

        def run():
            with torch.no_grad():
                return module(image)
    mask, first, timings = time_runs(run, warmup, runs)
    torch.save({"mask": mask.clone(), "first_ms": first, "timings_ms": timings}, out)


def measure(kind: str, path: str, warmup: int, runs: int) -> dict:
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "r.pt")
        env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
        subprocess.run([sys.executable, __file__, "--child", kind, path, out, "--warmup", str(warmup), "--runs",
                        str(runs)], check=True, env=env, cwd=ROOT)
        return torch.load(out, weights_only=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?")
    parser.add_argument("--out", help="markdown file to write the results to")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child, args.warmup, args.runs)
        return 0
    import torch

    from edgepack import __version__
    from edgepack.builder import build
    from edgepack.package import BuildOptions

    work = pathlib.Path(tempfile.mkdtemp(prefix="edgepack-seg-e2e-"))
    files = {}
    for name, opts in {"float .ptl": {}, "float .pte": {}, "static int8 .ptl": {"quantize": "static"},
                       "static int8 .pte": {"quantize": "static"}}.items():
        suffix = ".pte" if name.endswith(".pte") else ".ptl"
        out = work / (name.replace(" ", "_").replace(".", "") + suffix)
        calib = str(ROOT / "examples" / "segmentation") if opts else None
        build(args.source, BuildOptions(output=str(out), calib=calib, **opts), report=lambda m: None)
        files[name] = out
    rows = [("eager PyTorch + PIL", "eager", args.source),
            ("eager PyTorch + PIL, channels-last logits", "eager-cl", args.source)] + \
        [(n, "file", str(p)) for n, p in files.items()]
    results = {}
    for label, kind, path in rows:
        results[label] = measure(kind, path, args.warmup, args.runs)
        print(f"{label}: p50 {statistics.median(results[label]['timings_ms']):.1f} ms", flush=True)
    eager = results["eager PyTorch + PIL"]
    eager_p50 = statistics.median(eager["timings_ms"])
    lines = [f"# Segmentation end to end, 1920x1080 frame, 1 thread", "",
             f"Command: `.venv/bin/python benchmarks/segmentation_e2e.py {args.source} --out {args.out}` "
             f"({time.strftime('%Y-%m-%d')}, edgepack {__version__}, torch {torch.__version__}, "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; each row a fresh process, "
             f"OMP_NUM_THREADS=1, {args.warmup} warm-up + {args.runs} timed runs)", "",
             "Both sides start from the decoded uint8 frame and end with the uint8 class mask at 1920x1080.", "",
             "| pipeline | size | first | p50 | p90 | p50 vs eager | mask agreement with eager |",
             "|---|---|---|---|---|---|---|"]
    for label, kind, path in rows:
        r = results[label]
        t = sorted(r["timings_ms"])
        p50, p90 = statistics.median(t), t[min(len(t) - 1, int(0.9 * len(t)))]
        size = f"{pathlib.Path(path).stat().st_size / 1e6:.2f} MB" if kind == "file" else "–"
        same = float((r["mask"] == eager["mask"]).double().mean())
        lines.append(f"| {label} | {size} | {r['first_ms']:.1f} ms | {p50:.1f} ms | {p90:.1f} ms | "
                     f"{p50 / eager_p50:.2f}x | {same:.2%} |")
    lines += ["", "Target (#13): the packaged float segmenter at most 0.7x the eager pipeline's p50 (first row).",
              "", "The eager pipeline written the usual way spends most of its time in `argmax` over the classes of an "
              "NCHW tensor (a strided reduction); the same eager code with channels-last logits (second row) shows "
              "what is left of the difference once that is avoided. The `.ptl`'s logits come out of XNNPACK "
              "channels-last; the `.pte` runs the upsample and argmax on ExecuTorch's portable kernels."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
