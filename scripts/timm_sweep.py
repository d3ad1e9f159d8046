"""Build a broad sample of timm classification models and record which ones validate.

    .venv/bin/python scripts/timm_sweep.py [--out benchmarks/results/timm_sweep.md] [NAME ...]
    .venv/bin/python scripts/timm_sweep.py --format pte --out benchmarks/results/timm_sweep_pte.md

Each model is created with `pretrained=False`; its BatchNorm statistics and affine parameters are
randomised (seeded) and saved as a weights file, because an untrained network's outputs are nearly
constant and would make validation vacuous. Then `edgepack.build("timm:NAME", weights=...)` runs
the full pipeline (bundled preprocessing, optimisation with retries, lite reload, validation), and
the result or the one-line failure reason is recorded.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import platform
import sys
import tempfile
import time

import timm
import torch

from bn_stats import randomize_batchnorm  # scripts/ is on sys.path when run as a script
from edgepack import BuildOptions, EdgepackError, build

# Families: classic CNNs, mobile CNNs, NAS nets, ViTs, hybrids, MLP-like; picked for breadth, not
# for passing. Sizes stay at each model's default input size.
MODELS = [
    "resnet18", "resnet50", "resnext26ts", "regnetx_002", "regnety_004", "densenet121", "vgg11_bn", "dla34",
    "mobilenetv2_100", "mobilenetv3_small_100", "mobilenetv3_large_100", "mnasnet_100", "lcnet_050",
    "ghostnet_100", "hardcorenas_a", "rexnet_100", "efficientnet_b0", "tf_efficientnet_lite0", "efficientnet_lite0",
    "convnext_atto", "edgenext_xx_small", "repvit_m1", "fastvit_t8", "mobileone_s0",
    "deit_tiny_patch16_224", "vit_tiny_patch16_224", "levit_128s", "mobilevit_xxs", "mobilevitv2_050",
    "efficientformer_l1", "poolformer_s12", "coat_lite_tiny", "inception_v3", "xception41",
]


def randomized_weights(name: str, path: pathlib.Path, seed: int = 0) -> None:
    model = timm.create_model(name, pretrained=False)
    randomize_batchnorm(model, seed)
    torch.save(model.state_dict(), path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=MODELS)
    parser.add_argument("--out", default="benchmarks/results/timm_sweep.md")
    parser.add_argument("--format", choices=["ptl", "pte"], default="ptl")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            t0 = time.perf_counter()
            weights = pathlib.Path(tmp) / f"{name}.pth"
            out = pathlib.Path(tmp) / f"{name}.{args.format}"
            row = {"model": name}
            try:
                randomized_weights(name, weights)
                res = build(f"timm:{name}", BuildOptions(output=str(out), weights=str(weights), force=True),
                            report=lambda m: None)
                v = res.manifest["validation"]
                opt = res.manifest["optimizer"]
                if opt.get("delegated_share") is not None:
                    row["delegated_share"] = opt["delegated_share"]
                    row["planned_mb"] = round(res.manifest["memory"]["planned_bytes"] / 1e6, 1)
                row.update(ok=True, optimizer=res.manifest["optimizer"]["path"],
                           dropped=",".join(res.manifest["optimizer"]["dropped"]) or "-",
                           max_rel_err=v["max_rel_err"], top1=v["top1_agreement"], size_mb=round(res.size_bytes / 1e6, 1))
            except EdgepackError as exc:
                row.update(ok=False, reason=str(exc))
            except Exception as exc:  # record crashes too: they are bugs to fix
                row.update(ok=False, reason=f"CRASH {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            row["seconds"] = round(time.perf_counter() - t0, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
            out.unlink(missing_ok=True)
            weights.unlink(missing_ok=True)
    ok = sum(r["ok"] for r in rows)
    lines = [
        f"# timm sweep: `edgepack build timm:NAME --weights <BN-randomised> --format {args.format}`",
        "",
        f"Command: `.venv/bin/python scripts/timm_sweep.py{' ' + ' '.join(argv) if argv else ''}`  ",
        f"torch {torch.__version__}, timm {timm.__version__}, {platform.machine()}, 1 thread. "
        f"**{ok}/{len(rows)} built and validated ({ok / len(rows):.0%}).**",
        "",
        "| model | result | optimizer | dropped passes | max rel err | top-1 agree | size MB | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["ok"]:
            extra = f" ({r['delegated_share']:.0%} ops delegated, {r['planned_mb']} MB planned)" \
                if "planned_mb" in r else ""
            lines.append(f"| {r['model']} | ok | {r['optimizer']}{extra} | {r['dropped']} | {r['max_rel_err']:.1e} | "
                         f"{r['top1']:.3f} | {r['size_mb']} | {r['seconds']} |")
        else:
            lines.append(f"| {r['model']} | **failed**: {r['reason'].replace('|', '/')} | | | | | | {r['seconds']} |")
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"{ok}/{len(rows)} ok; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
