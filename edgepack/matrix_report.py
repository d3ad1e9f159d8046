"""The outputs of `edgepack matrix`: a terminal table (fits 100 columns), `report.md`,
`report.json` and `plot.png` (latency vs accuracy drop; matplotlib, when installed).

Everything here renders the report document built by `edgepack.matrix.run_matrix`; nothing is
measured or decided here.
"""
from __future__ import annotations

import json
import os
import pathlib
import textwrap
from typing import List, Optional

from .files import write_text_atomic
from .matrix import quality

PLOT_COLOURS = {"ptl": "tab:blue", "pte": "tab:orange", "eager+PIL": "tab:gray", "onnxruntime+PIL": "tab:green"}


def _ms(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def _mb(value) -> str:
    return "-" if not value else f"{value / 1e6:.2f}"


def _rows(report: dict) -> List[dict]:
    return list(report["cells"]) + list(report.get("references") or [])


def _p50(row: dict, threads: int) -> Optional[float]:
    bench = (row.get("bench") or {}).get(str(threads)) or {}
    return bench.get("p50_ms") if bench.get("status") == "ok" else None


def _quality_cell(row: dict) -> str:
    metric, value = quality(row)
    if value is None:
        return "-"
    return f"{value:.1%}" + ("" if metric == "accuracy_drop" else "*")


def format_table(report: dict, width: int = 100) -> str:
    """The terminal table: one row per cell and reference, then the recommendation."""
    # At most three thread counts fit in 100 columns (report.md has them all), plus the device's p50.
    threads = report["settings"]["threads"][:3]
    device = any(row.get("device") for row in report["cells"])
    name_w = max(16, width - 52 - 8 * (len(threads) + device))
    head = (f"{'file':<{name_w}} {'fmt':<4} {'MB':>6} {'build':>6} {'agree':>6} {'drop':>6} "
            + " ".join(f"{'p50@' + str(t):>7}" for t in threads) + (f" {'device':>7}" if device else "")
            + "  status")
    lines = [head, "-" * min(width, len(head) + 6)]
    choice = (report.get("recommendation") or {}).get("choice")
    for row in _rows(report):
        val = row.get("validation") or {}
        name = ("> " if row["name"] == choice else "  ") + row["name"]
        if len(name) > name_w:
            name = name[:name_w - 1] + "~"
        fmt = {"eager+PIL": "eagr", "onnxruntime+PIL": "ort"}.get(row["format"], row["format"])
        build = "-" if row.get("build_s") is None else f"{row['build_s']:.0f}s"
        status = "ok" if row["status"] == "ok" else "FAILED"
        lines.append(f"{name:<{name_w}} {fmt:<4} {_mb(row.get('size_bytes')):>6} {build:>6} "
                     f"{_pct(val.get('top1_agreement')):>6} {_quality_cell(row):>6} "
                     + " ".join(f"{_ms(_p50(row, t)):>7}" for t in threads)
                     + (f" {_ms((row.get('device') or {}).get('p50_ms')):>7}" if device else "") + f"  {status}")
    lines.append("")
    agree = ("top-1 retrieval agreement (embeddings)" if report["settings"].get("task") == "embedding"
             else "top-1 agreement")
    notes = [f"agree: {agree} with the float model; drop: accuracy drop on --val (* = 1 - agree, no "
             "labels); p50 in ms on this machine; > marks the recommended file.",
             *_recommendation_lines(report)]
    for note in notes:
        lines.extend(textwrap.wrap(note, width, subsequent_indent="  ", break_on_hyphens=False))
    return "\n".join(lines)


def _recommendation_lines(report: dict) -> List[str]:
    rec = report.get("recommendation") or {}
    if rec.get("choice"):
        lines = [f"Recommended: {rec['file']} ({rec['why']})."]
    else:
        lines = [f"No recommendation: {rec.get('why', 'no file qualifies')}."]
    failed = [r for r in report["cells"] if r["status"] != "ok"]
    if failed:
        lines.append(f"{len(failed)} of {len(report['cells'])} cell(s) failed: see report.md for the reasons.")
    return lines


def to_markdown(report: dict) -> str:
    m = report["machine"]
    s = report["settings"]
    threads = s["threads"]
    rec = report.get("recommendation") or {}
    L = [
        "# edgepack matrix report", "",
        f"Created {report['created_utc']} on {m['cpu']} ({m['platform']}); edgepack {m['edgepack']}, torch "
        f"{m['torch']}, executorch {m.get('executorch') or '-'}, onnxruntime {m.get('onnxruntime') or '-'}. "
        f"Wall time {report['wall_s']} s.", "",
        f"> {m['note']}", "",
        f"Settings: formats {', '.join(s['formats'])}; quantization {', '.join(s['quantize'])}; threads "
        f"{', '.join(map(str, threads))}; {s['runs']} timed runs after {s['warmup']} warm-up on a "
        f"{s['image'][0]}x{s['image'][1]} frame (uint8 in, probabilities out, preprocessing included); "
        f"--max-accuracy-drop {s['max_accuracy_drop']:.2%}.", "",
        "## Recommendation", "",
    ]
    if rec.get("choice"):
        L.append(f"**{rec['file']}**: {rec['why']}.")
    else:
        L.append(f"**None**: {rec.get('why')}.")
    L += ["", f"Ranked by {rec.get('ranked_by')}.", "", "| file | why it was not chosen |", "|---|---|"]
    for name, why in (rec.get("lost") or {}).items():
        L.append(f"| {name} | {str(why).replace('|', '/')} |")
    L += ["", "## Files", "",
          "| file | format | quantization | MB | build s | top-1 agreement | max abs err | accuracy | drop | "
          + " | ".join(f"load ms @{t} | first ms @{t} | p50 ms @{t} | p90 ms @{t}" for t in threads)
          + " | device p50 ms | status |",
          "|---|---|---|---:|---:|---:|---:|---:|---:|" + "---:|---:|---:|---:|" * len(threads) + "---:|---|"]
    for row in _rows(report):
        val = row.get("validation") or {}
        benches = []
        for t in threads:
            b = (row.get("bench") or {}).get(str(t)) or {}
            ok = b.get("status") == "ok"
            benches.append(" | ".join(_ms(b.get(k) if ok else None)
                                      for k in ("load_ms", "first_inference_ms", "p50_ms", "p90_ms")))
        status = "ok" if row["status"] == "ok" else f"failed: {str(row.get('reason')).replace('|', '/')}"
        L.append(f"| {row['name']} | {row['format']} | {row.get('quantize', '-')} | {_mb(row.get('size_bytes'))} | "
                 f"{row.get('build_s', '-')} | {_pct(val.get('top1_agreement'))} | {val.get('max_abs_err', '-')} | "
                 f"{_pct(val.get('accuracy'))} | {_quality_cell(row)} | " + " | ".join(benches)
                 + f" | {_ms((row.get('device') or {}).get('p50_ms'))} | {status} |")
    L += ["", "Drop: accuracy drop against the float model on the labelled --val images; marked * it is the "
          "top-1 disagreement with the float model instead (no labels). Reference rows (eager+PIL, "
          "onnxruntime+PIL) are the pipelines a user would write without edgepack, timed the same way "
          "(fresh process per configuration); they run the float model (its accuracy is the files' "
          "float_accuracy, with PIL's resize instead of the bundled one, not measured separately); their "
          "size is the ONNX file's where there is one.", ""]
    if report.get("plot"):
        L += [f"![latency vs accuracy drop]({report['plot']})", ""]
    elif report.get("plot_note"):
        L += [f"Plot: {report['plot_note']}", ""]
    return "\n".join(L)


def write_plot(report: dict, path: pathlib.Path) -> Optional[str]:
    """Latency (x) vs accuracy drop (y), marker area ~ file size, one colour per format. Returns
    why no plot was drawn, or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "not drawn: matplotlib is not installed (pip install matplotlib)"
    threads = report["settings"]["threads"][0]
    points = []
    for row in _rows(report):
        ms = _p50(row, threads)
        _, drop = quality(row)
        if row["status"] == "ok" and ms is not None and drop is not None:
            points.append((ms, drop * 100, row.get("size_bytes") or 0, row["format"], row["name"]))
    # Rows with a latency but no accuracy figure (the ONNX Runtime reference): a vertical line.
    lines = [(_p50(row, threads), row["format"], row["name"]) for row in _rows(report)
             if row["status"] == "ok" and _p50(row, threads) is not None and quality(row)[1] is None]
    if not points:
        return "not drawn: no row has both a latency and an accuracy figure"
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=100)
    for ms, fmt, name in lines:
        ax.axvline(ms, color=PLOT_COLOURS.get(fmt, "tab:purple"), linestyle=":", linewidth=1.2,
                   label=f"{fmt} (latency only)")
    biggest = max(p[2] for p in points) or 1
    for fmt in dict.fromkeys(p[3] for p in points):
        sel = [p for p in points if p[3] == fmt]
        ax.scatter([p[0] for p in sel], [p[1] for p in sel], s=[40 + 400 * p[2] / biggest for p in sel],
                   c=PLOT_COLOURS.get(fmt, "tab:purple"), alpha=0.7, label=fmt, edgecolors="black", linewidths=0.5)
    for ms, drop, _, _, name in points:
        ax.annotate(name, (ms, drop), fontsize=7, xytext=(4, 4), textcoords="offset points")
    choice = (report.get("recommendation") or {}).get("choice")
    for ms, drop, _, _, name in points:
        if name == choice:
            ax.scatter([ms], [drop], s=600, facecolors="none", edgecolors="red", linewidths=1.5)
    ax.axhline(report["settings"]["max_accuracy_drop"] * 100, color="red", linestyle="--", linewidth=0.8,
               label="--max-accuracy-drop")
    ax.set_xscale("log")
    ax.set_xlabel(f"p50 latency, ms ({threads} thread(s), this machine; log scale)")
    ax.set_ylabel("accuracy drop vs float, % (or top-1 disagreement)")
    ax.set_title("edgepack matrix: marker size = file size")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
    try:
        fig.savefig(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        return f"not drawn: cannot write {path.name} ({exc.strerror or exc})"
    finally:
        plt.close(fig)
    return None


def write_reports(report: dict, out: pathlib.Path) -> None:
    """report.json, report.md and plot.png into `out` (each written whole, then renamed)."""
    note = write_plot(report, out / "plot.png")
    report["plot"] = None if note else "plot.png"
    report["plot_note"] = note
    write_text_atomic(out / "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    write_text_atomic(out / "report.md", to_markdown(report))
