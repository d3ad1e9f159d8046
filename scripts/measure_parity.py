"""Bundled preprocessing (uint8 frame -> .ptl) versus timm's own PIL eval pipeline.

    .venv/bin/python scripts/measure_parity.py [--ckpt examples/shapes_regnet.ckpt] [--count 300]
        [--out benchmarks/results/parity.md]
    .venv/bin/python scripts/measure_parity.py --format pte --count 1000 --out benchmarks/results/parity_pte.md

With `--format pte` the bundled preprocessing is the .pte's stock-op resize (StockResize), the file
runs in ExecuTorch's runtime, and images stay within the file's maximum side (1920 px).

For a varied, generated image set (shapes scenes the example model was trained on, photo-like
gradients and textures, noise, text-like edges; sizes from 32 px to 4000 px; aspect ratios 1:4 to
4:1) it reports, in normalised units (after mean/std):
- the mean and max absolute difference between the network input our scripted preprocessing
  produces and what `timm.data.create_transform(...)` produces from the same image with PIL;
- the same for a float resize with no uint8 rounding (what a plain float pipeline does: the size
  of the effect of PIL rounding to uint8);
- top-1 agreement between the built `.ptl` fed the uint8 frame and the eager float model fed timm's
  tensor (the path users take without edgepack).
"""
from __future__ import annotations

import argparse
import math
import pathlib
import random
import sys
import tempfile

import numpy as np
import timm.data
import torch
from PIL import Image, ImageDraw

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
import shapes  # noqa: E402

from edgepack import BuildOptions, build  # noqa: E402
from edgepack.preprocess import ImagePreprocess, PreprocessConfig  # noqa: E402
from edgepack.sources import load_source  # noqa: E402
from edgepack.validate import load_lite  # noqa: E402


def _size(rng: random.Random, max_side: int = 4000) -> tuple:
    """(w, h): long side 32..max_side px (log-uniform, big sizes rare), aspect 1:4..4:1."""
    long_side = int(math.exp(rng.uniform(math.log(32), math.log(max_side))))
    aspect = math.exp(rng.uniform(math.log(0.25), math.log(4.0)))
    w, h = (long_side, max(16, int(long_side / aspect))) if aspect >= 1 else (max(16, int(long_side * aspect)), long_side)
    return w, h


def varied_images(count: int, seed: int = 0, max_side: int = 4000):
    """(kind, PIL image) pairs; about half are shapes scenes the example model knows."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    for i in range(count):
        w, h = _size(rng, max_side)
        kind = ["shapes", "shapes", "gradient", "noise", "text"][i % 5]
        if kind == "shapes":
            img = shapes.draw_shape(rng.choice(shapes.CLASSES), rng, (max(w, 32), max(h, 32)))
        elif kind == "gradient":
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            arr = np.stack([xx / w * 255, yy / h * 255, (xx + yy) / (w + h) * 255], -1)
            arr += nrng.normal(0, 8, size=arr.shape)
            img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        elif kind == "noise":
            img = Image.fromarray(nrng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))
        else:  # text-like: dark glyph strokes on light paper
            img = Image.new("RGB", (w, h), (235, 232, 220))
            draw = ImageDraw.Draw(img)
            step = max(6, h // 12)
            for y in range(step, h, step):
                draw.text((4, y - step), "edgepack lite 0123456789 " * (w // 120 + 1), fill=(20, 20, 20))
        yield kind, img


def measure(ptl_path, cfg: PreprocessConfig, model: torch.nn.Module, images, fmt: str = "ptl") -> dict:
    if fmt == "pte":
        from edgepack.formats.pte import DEFAULT_MAX_SIDE, PteModule
        from edgepack.formats.stock_resize import StockResize

        lite = PteModule(ptl_path)
        ours = StockResize(cfg, DEFAULT_MAX_SIDE).eval()
    else:
        lite = load_lite(ptl_path)
        ours = torch.jit.script(ImagePreprocess(cfg).eval())
    no_round = torch.jit.script(ImagePreprocess(cfg, uint8_resize=False).eval())
    timm_tf = timm.data.create_transform(**cfg.to_timm_config(), is_training=False)
    means, maxes, means_nr, maxes_nr, agree, by_kind, flips = [], [], [], [], [], {}, []
    with torch.no_grad():
        for index, (kind, img) in enumerate(images):
            frame = torch.from_numpy(np.array(img.convert("RGB")))
            ref = timm_tf(img.convert("RGB")).unsqueeze(0)
            diff = (ours(frame) - ref).abs()
            diff_nr = (no_round(frame) - ref).abs()
            means.append(diff.mean().item())
            maxes.append(diff.max().item())
            means_nr.append(diff_nr.mean().item())
            maxes_nr.append(diff_nr.max().item())
            expected = model(ref).softmax(1)[0]
            got = int(lite(frame).argmax().item())
            same = int(got == expected.argmax().item())
            agree.append(same)
            if not same:
                # Which half moved the answer: our preprocessing (the eager model on our tensor
                # already disagrees) or the optimised network (it agrees, the .ptl does not)?
                top2 = expected.topk(2).values
                flips.append({"image": index, "kind": kind, "size": list(img.size),
                              "reference_margin": round(float(top2[0] - top2[1]), 5),
                              "cause": "preprocessing" if model(ours(frame)).argmax(1).item() != expected.argmax().item()
                              else "network"})
            by_kind.setdefault(kind, []).append(same)
    return {
        "images": len(agree),
        "mean_abs_diff": float(np.mean(means)),
        "max_abs_diff": float(np.max(maxes)),
        "mean_abs_diff_no_rounding": float(np.mean(means_nr)),
        "max_abs_diff_no_rounding": float(np.max(maxes_nr)),
        "top1_agreement": float(np.mean(agree)),
        "top1_agreement_by_kind": {k: float(np.mean(v)) for k, v in by_kind.items()},
        "flips": flips,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", default=str(ROOT / "examples" / "shapes_regnet.ckpt"))
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "parity.md"))
    parser.add_argument("--format", choices=["ptl", "pte"], default="ptl")
    args = parser.parse_args(argv)
    max_side = 1920 if args.format == "pte" else 4000
    torch.set_num_threads(1)
    src = load_source(args.ckpt)
    with tempfile.TemporaryDirectory() as tmp:
        ptl = pathlib.Path(tmp) / f"m.{args.format}"
        build(args.ckpt, BuildOptions(output=str(ptl)), report=lambda m: None)
        rows = {}
        for interpolation in ("bicubic", "bilinear"):
            cfg = PreprocessConfig.from_data_config(src.data_config).with_overrides(interpolation=interpolation)
            if interpolation != PreprocessConfig.from_data_config(src.data_config).interpolation:
                ptl_i = pathlib.Path(tmp) / f"m_{interpolation}.{args.format}"
                build(args.ckpt, BuildOptions(output=str(ptl_i), interpolation=interpolation), report=lambda m: None)
            else:
                ptl_i = ptl
            rows[interpolation] = measure(ptl_i, cfg, src.model, varied_images(args.count, max_side=max_side),
                                          args.format)
            print(interpolation, rows[interpolation], flush=True)
    fmt_args = f" --format {args.format}" if args.format != "ptl" else ""
    lines = [f"# Preprocessing parity ({args.format}): bundled uint8 path vs timm's PIL eval pipeline", "",
             f"Command: `.venv/bin/python scripts/measure_parity.py --count {args.count}{fmt_args}`  ",
             f"Model: `{pathlib.Path(args.ckpt).name}`; {args.count} generated images per row (shapes scenes, gradients, "
             f"noise, text-like edges; 32-{max_side} px, aspect 1:4-4:1). Differences in normalised units (after mean/std).",
             "",
             "| interpolation | mean abs diff | max abs diff | mean abs diff, float resize | max, float resize | "
             "top-1 agreement | by kind |",
             "|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        kinds = ", ".join(f"{k} {v:.1%}" for k, v in r["top1_agreement_by_kind"].items())
        lines.append(f"| {name} | {r['mean_abs_diff']:.5f} | {r['max_abs_diff']:.3f} | {r['mean_abs_diff_no_rounding']:.4f} | "
                     f"{r['max_abs_diff_no_rounding']:.3f} | {r['top1_agreement']:.1%} | {kinds} |")
    lines += ["", "Images whose top-1 differs (reference margin: top-1 minus top-2 probability of the eager model on "
              "timm's tensor; cause: preprocessing if the eager model on our tensor already differs, else the "
              "optimised network):", ""]
    for name, r in rows.items():
        for f in r["flips"]:
            lines.append(f"- {name}: image {f['image']} ({f['kind']}, {f['size'][0]}x{f['size'][1]}), "
                         f"margin {f['reference_margin']}, cause {f['cause']}")
        if not r["flips"]:
            lines.append(f"- {name}: none")
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
