#!/usr/bin/env python
"""Collect on-device benchmark results into benchmarks/results/device_results.{json,md}.

    python benchmarks/device_results.py add RESULT --device "Pixel 7" --model mobilenetv3_small_100 \\
        --variant float [--threads 1] [--frame 640x480] [--note "..."]
    python benchmarks/device_results.py table        # rewrite the markdown from the JSON

RESULT is one of (see benchmarks/README.md, "On a phone"):
  - the Android demo's benchmark JSON (the `BENCH_JSON {...}` logcat line, files/bench.json, or the
    shared text): the field names of `edgepack bench --json`;
  - `edgepack bench --json` output (a desktop or edge-box run);
  - the console output of PyTorch's `speed_benchmark_torch` run with `--report_pep=true`: one
    `PyTorchObserver {... "metric": "latency", "value": "<microseconds>"}` line per iteration.
Percentiles use numpy's default (linear), as `edgepack bench` and the app do.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
from typing import List, Optional

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_DB = HERE / "results" / "device_results.json"
PEP = re.compile(r'PyTorchObserver\s*(\{.*\})')
MEAN_LINE = re.compile(r"Microseconds per iter:\s*([0-9.eE+-]+)")


def _stats(timings: List[float]) -> dict:
    import numpy as np

    t = np.asarray(timings, dtype=float)
    r = lambda v: round(float(v), 3)  # noqa: E731
    return {"p50_ms": r(np.percentile(t, 50)), "p90_ms": r(np.percentile(t, 90)), "p99_ms": r(np.percentile(t, 99)),
            "mean_ms": r(t.mean()), "min_ms": r(t.min()), "runs": int(t.size)}


def parse_result(text: str) -> dict:
    """A result record (edgepack bench field names) from app/bench JSON or speed_benchmark_torch output."""
    text = text.strip()
    start = text.find("BENCH_JSON ")
    if start >= 0:
        text = text[start + len("BENCH_JSON "):].splitlines()[0]
    if text.startswith("{") or text.startswith("["):
        doc = json.loads(text)
        if isinstance(doc, list):
            if len(doc) != 1:
                raise ValueError("give one configuration per record (edgepack bench --json with one --threads)")
            doc = doc[0]
        if "p50_ms" not in doc:
            raise ValueError("JSON without p50_ms: not an edgepack bench / Android demo result")
        doc.pop("timings_ms", None)
        doc.setdefault("source", "edgepack bench / Android demo JSON")
        return doc
    timings = []
    for line in text.splitlines():
        m = PEP.search(line)
        if not m:
            continue
        ev = json.loads(m.group(1))
        if ev.get("metric") == "latency" and ev.get("type") == "NET":
            scale = {"us": 1e-3, "ms": 1.0, "ns": 1e-6}.get(ev.get("unit", "us"), 1e-3)
            timings.append(float(ev["value"]) * scale)
    if timings:
        rec = _stats(timings)
    else:
        m = MEAN_LINE.search(text)
        if not m:
            raise ValueError("no result found: expected JSON, or speed_benchmark_torch output "
                             "(run it with --report_pep=true for percentiles)")
        rec = {"mean_ms": round(float(m.group(1)) / 1e3, 3)}
    rec["source"] = "speed_benchmark_torch" + (" --report_pep" if timings else " (mean only)")
    return rec


def load_db(path: pathlib.Path) -> List[dict]:
    return json.loads(path.read_text()) if path.exists() else []


def table(records: List[dict]) -> str:
    f = lambda v: "—" if v is None else f"{v:.1f}"  # noqa: E731
    lines = ["# On-device results", "",
             "Added with `benchmarks/device_results.py add`. Latency in ms of one uint8 frame → probabilities.", "",
             "| device | model | variant | threads | frame | p50 | p90 | mean | min | load | first | runs | source | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r.get('device') or '—'} | {r.get('model_name') or '—'} | {r.get('variant') or '—'} | "
                     f"{r.get('threads') or '—'} | {r.get('frame') or '—'} | {f(r.get('p50_ms'))} | {f(r.get('p90_ms'))} | "
                     f"{f(r.get('mean_ms'))} | {f(r.get('min_ms'))} | {f(r.get('load_ms'))} | "
                     f"{f(r.get('first_inference_ms'))} | {r.get('runs') or '—'} | {r.get('source')} | {r.get('note') or ''} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default=str(DEFAULT_DB), help="results JSON (default benchmarks/results/device_results.json)")
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("add", help="add one result file ('-' for stdin)")
    a.add_argument("result")
    a.add_argument("--device", required=True, help='e.g. "Pixel 7 (Tensor G2)"')
    a.add_argument("--model", required=True, help="model name, as in the desktop table")
    a.add_argument("--variant", required=True, help="float, dynamic, static, ...")
    a.add_argument("--threads", type=int, help="thread count (the app's JSON has it; speed_benchmark_torch has none)")
    a.add_argument("--frame", help="input WxH (default: from the JSON's input_shape)")
    a.add_argument("--note")
    sub.add_parser("table", help="rewrite the markdown table from the JSON")
    args = p.parse_args(argv)
    db = pathlib.Path(args.db)
    records = load_db(db)
    if args.cmd == "add":
        text = sys.stdin.read() if args.result == "-" else pathlib.Path(args.result).read_text()
        try:
            rec = parse_result(text)
        except (ValueError, json.JSONDecodeError) as exc:
            print(f"device_results: error: {exc}", file=sys.stderr)
            return 2
        shape = rec.get("input_shape")
        rec.update(device=args.device or rec.get("device"), model_name=args.model, variant=args.variant,
                   note=args.note, threads=args.threads or rec.get("threads"),
                   frame=args.frame or (f"{shape[1]}x{shape[0]}" if isinstance(shape, list) and len(shape) >= 2 else None))
        records.append(rec)
        db.parent.mkdir(parents=True, exist_ok=True)
        db.write_text(json.dumps(records, indent=1, sort_keys=True))
    db.with_suffix(".md").write_text(table(records))
    print(db.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
