#!/usr/bin/env python
"""ExecuTorch `.pte` beside `.ptl`, eager PyTorch + PIL and ONNX Runtime + PIL, in one run.

    python benchmarks/pte_vs_ptl.py                    # all models, writes benchmarks/results/pte.{md,json}
    python benchmarks/pte_vs_ptl.py --models resnet18 --reps 1 --runs 5

For each model (random weights, nothing downloaded) it builds with `edgepack.build`: a float `.ptl`,
a float `.pte` (XNNPACK-delegated network, stock-op preprocessing), a static int8 `.pte` (PT2E,
XNNPACK quantizer, calibrated on generated shapes), and model-only files (`--input float`) of both
formats, then exports ONNX. Every configuration runs in its own fresh process, one at a time, at
1 thread (OpenMP 1 + PASSIVE for torch; ExecuTorch's own pool at 1):

  end to end  a uint8 frame (640x480 and 1920x1080) -> probabilities: eager (timm PIL transform +
              eager model), ort (PIL resize + numpy + ONNX Runtime), ptl-float, pte-float, pte-static
  model only  a normalised [1, 3, S, S] tensor -> probabilities: ptl-net, pte-net, pte-net-static

Measurement code is shared with run_benchmarks.py (same children, same statistics: the median of
the repetitions' medians, with their range). Each build's planned memory, load time and lowering
figures come from its manifest and `edgepack bench`.
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import shlex
import statistics
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run_benchmarks as rb  # noqa: E402  (sys.path set above)

MODELS = ["mobilenetv3_small_100", "resnet18", "efficientnet_b0", "deit_tiny_patch16_224"]
FRAMES = [(640, 480), (1920, 1080)]
BUILDS = {  # name: (format, extra BuildOptions)
    "ptl-float": ("ptl", {}),
    "pte-float": ("pte", {}),
    "pte-static": ("pte", {"quantize": "static"}),
    "ptl-net": ("ptl", {"input": "float"}),
    "pte-net": ("pte", {"input": "float"}),
    "pte-net-static": ("pte", {"input": "float", "quantize": "static"}),
}


def build(model: str, name: str, work: pathlib.Path, calib: pathlib.Path, args) -> dict:
    from edgepack import BuildOptions
    from edgepack import build as edgepack_build

    fmt, extra = BUILDS[name]
    opts = dict(output=str(work / f"{model}.{name}.{fmt}"), force=True, accept_mismatch=True, **extra)
    if extra.get("quantize"):
        # Random weights give near-uniform outputs whose top-1 flips with any int8 error: agreement
        # means nothing here (see run_benchmarks.build_variant); fidelity to the quantized eager
        # model is still checked.
        opts.update(calib=str(calib), calib_count=args.calib_count, min_agreement=1e-6)
    t0 = time.perf_counter()
    try:
        result = edgepack_build(f"timm:{model}", BuildOptions(**opts), report=lambda m: None)
    except Exception as exc:  # noqa: BLE001  (a failed build is a result too)
        return {"ok": False, "error": rb._first_line(exc), "build_s": round(time.perf_counter() - t0, 1)}
    m = result.manifest
    return {"ok": True, "path": result.output, "size_bytes": result.size_bytes,
            "build_s": round(time.perf_counter() - t0, 1), "optimizer": m.get("optimizer"),
            "memory": m.get("memory"), "validation": {k: (m.get("validation") or {}).get(k)
                                                      for k in ("passed", "max_rel_err", "top1_agreement")}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--runs", type=int, default=12)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--calib-count", type=int, default=32)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--work", help="folder for the built files; when it holds builds.json from an earlier run "
                                  "with the same models, those builds are measured again instead of rebuilt")
    args = p.parse_args(argv)
    args.num_classes, args.input_size = None, None  # what run_benchmarks.measure reads
    models = args.models.split(",")
    t_start = time.perf_counter()
    work = pathlib.Path(args.work) if args.work else pathlib.Path(tempfile.mkdtemp(prefix="edgepack-pte-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    cached = json.loads((work / "builds.json").read_text()) if (work / "builds.json").exists() else {}
    import shapes
    import torch

    torch.set_num_threads(1)
    calib = work / "calib"
    if any(m not in cached for m in models) and not calib.exists():
        shapes.generate(calib, count_per_class=math.ceil(args.calib_count / len(shapes.CLASSES)), seed=0)
    doc = {"command": shlex.join([pathlib.Path(sys.executable).name, "benchmarks/pte_vs_ptl.py"]
                                 + (sys.argv[1:] if argv is None else list(argv))),
           "machine": rb.machine(), "load_average_start": rb.load_average(),
           "busy_at_start": rb.other_busy_processes(), "builds": {}, "results": []}
    cases = []
    for m in models:
        if m in cached:
            doc["builds"][m] = cached[m]
            rb.log(f"  {m}: reusing the builds in {work}")
        else:
            doc["builds"][m] = {}
            for name in BUILDS:
                rb.log(f"  build {m} {name} ...")
                b = doc["builds"][m][name] = build(m, name, work, calib, args)
                rb.log(f"    {'ok' if b['ok'] else 'FAILED: ' + b['error']} ({b['build_s']} s)")
            doc["builds"][m]["onnx"] = rb.export_onnx(m, work, args)
            (work / "builds.json").write_text(json.dumps(dict(cached, **{k: doc["builds"][k] for k in doc["builds"]}),
                                                         default=str))
        onnx = doc["builds"][m]["onnx"]
        for frame in FRAMES:
            cases.append(dict(model=m, runtime="eager", kind="eager", threads=1, frame=frame, group="e2e"))
            if onnx.get("ok"):
                cases.append(dict(model=m, runtime="ort", kind="ort", threads=1, frame=frame, group="e2e",
                                  path=onnx["path"], preprocess=onnx["preprocess"]))
            for name in ("ptl-float", "pte-float", "pte-static"):
                if doc["builds"][m][name]["ok"]:
                    cases.append(dict(model=m, runtime=name, kind="ptl", threads=1, frame=frame, group="e2e",
                                      path=doc["builds"][m][name]["path"]))
        for name in ("ptl-net", "pte-net", "pte-net-static"):
            if doc["builds"][m][name]["ok"]:
                cases.append(dict(model=m, runtime=name, kind="ptl", threads=1, frame=FRAMES[0], group="net",
                                  path=doc["builds"][m][name]["path"]))
    for i, case in enumerate(cases):
        case["id"] = f"{case['model']}/{case['runtime']}/{case['frame'][0]}x{case['frame'][1]}/{i}"
    raw = {c["id"]: [] for c in cases}
    for rep in range(args.reps):  # interleaved, so drifting load spreads over every case
        for case in cases:
            r = rb.measure(case, args)
            raw[case["id"]].append(r)
            tag = r.get("error") or f"median {statistics.median(r['timings_ms']):.2f} ms"
            rb.log(f"  rep {rep + 1}/{args.reps} {case['id']}: {tag}")
    doc["results"] = [rb.aggregate(c, raw[c["id"]]) for c in cases]
    doc["load_average_end"] = rb.load_average()
    doc["wall_s"] = round(time.perf_counter() - t_start, 1)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pte.json").write_text(json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n")
    (out / "pte.md").write_text(markdown(doc))
    rb.log(f"wrote {out / 'pte.md'} ({doc['wall_s']:.0f} s)")
    return 0


def _cell(doc, model, runtime, frame=None, group="e2e"):
    for r in doc["results"]:
        if r["model"] == model and r["runtime"] == runtime and r.get("group") == group and \
                (frame is None or tuple(r["frame"]) == tuple(frame)):
            return r
    return None


def _ms(r) -> str:
    if r is None:
        return "—"
    if r.get("median_ms") is None:
        return "error"
    return f"{r['median_ms']:.1f}"


def markdown(doc: dict) -> str:
    models = list(doc["builds"])
    lines = ["# ExecuTorch `.pte` vs `.ptl`, eager PyTorch and ONNX Runtime", "",
             f"Command: `{doc['command']}`  ", f"Machine: {doc['machine'].get('cpu')} "
             f"({doc['machine'].get('logical_cpus')} logical CPUs); load average at start "
             f"{doc['load_average_start']}, at end {doc['load_average_end']}; wall {doc['wall_s']} s.", "",
             "1 thread; median of the repetitions' median ms. Random weights (`pretrained=False`).", ""]
    for frame in FRAMES:
        lines += [f"## End to end, uint8 {frame[0]}x{frame[1]} frame -> probabilities", "",
                  "| model | eager + timm PIL | ORT fp32 + PIL | `.ptl` float | `.pte` float | `.pte` static int8 |"
                  " `.pte`/`.ptl` | int8 `.pte`/ORT |", "|---|---|---|---|---|---|---|---|"]
        for m in models:
            cells = {rt: _cell(doc, m, rt, frame) for rt in ("eager", "ort", "ptl-float", "pte-float", "pte-static")}
            ratio = _ratio(cells["pte-float"], cells["ptl-float"])
            q_ratio = _ratio(cells["pte-static"], cells["ort"])
            lines.append(f"| {m} | " + " | ".join(_ms(cells[k]) for k in cells) + f" | {ratio} | {q_ratio} |")
        lines.append("")
    lines += ["## Model only, normalised [1, 3, S, S] tensor -> probabilities", "",
              "| model | `.ptl` float | `.pte` float (XNNPACK) | `.pte` static int8 |", "|---|---|---|---|"]
    for m in models:
        lines.append(f"| {m} | " + " | ".join(_ms(_cell(doc, m, rt, group="net"))
                                              for rt in ("ptl-net", "pte-net", "pte-net-static")) + " |")
    lines += ["", "## Builds", "", "| model | file | size MB | build s | planned memory MB | ops delegated | "
              "validation |", "|---|---|---|---|---|---|---|"]
    for m in models:
        for name, b in doc["builds"][m].items():
            if name == "onnx":
                continue
            if not b.get("ok"):
                lines.append(f"| {m} | {name} | — | {b['build_s']} | — | — | FAILED: {b['error']} |")
                continue
            opt = b.get("optimizer") or {}
            mem = (b.get("memory") or {}).get("planned_bytes")
            share = opt.get("delegated_share")
            v = b["validation"]
            lines.append(f"| {m} | {name} | {b['size_bytes'] / 1e6:.2f} | {b['build_s']} | "
                         f"{mem / 1e6:.1f} | {share if share is not None else '—'} | " if mem is not None else
                         f"| {m} | {name} | {b['size_bytes'] / 1e6:.2f} | {b['build_s']} | — | — | ")
            lines[-1] += f"{'passed' if v.get('passed') else 'failed'}, max rel err {v.get('max_rel_err')} |"
    lines += ["", "## Load time and peak RSS (end to end, 640x480)", "", "| model | file | load ms | first ms | peak RSS MB |",
              "|---|---|---|---|---|"]
    for m in models:
        for rt in ("ptl-float", "pte-float", "pte-static"):
            r = _cell(doc, m, rt, FRAMES[0])
            if r and r.get("median_ms") is not None:
                lines.append(f"| {m} | {rt} | {r.get('load_ms')} | {r.get('first_inference_ms')} | {r.get('peak_rss_mb')} |")
    return "\n".join(lines) + "\n"


def _ratio(a, b) -> str:
    if not a or not b or a.get("median_ms") is None or b.get("median_ms") is None:
        return "—"
    return f"{a['median_ms'] / b['median_ms']:.2f}x"


if __name__ == "__main__":
    sys.exit(main())
