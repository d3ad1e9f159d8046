"""`edgepack bench` and benchmarks/run_benchmarks.py --quick, on a tiny built file."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from edgepack import BuildOptions, build
from edgepack.bench import FIELDS, input_spec, parse_threads, summarize, synthetic_frame
from edgepack.errors import EdgepackError
from conftest import ROOT, json_out, one_line_error

fallback = pytest.mark.fallback  # the CLI tests also run on torch without XNNPACK

REQUIRED = ["load_ms", "first_inference_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "min_ms", "runs", "warmup",
            "threads", "peak_rss_mb", "file_size_bytes", "torch_version"]


@pytest.fixture(scope="module")
def tiny_ptl(tiny_ckpt, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "tiny.ptl"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # validation in this process: avoid OpenMP/XNNPACK contention
    try:
        build(str(tiny_ckpt), BuildOptions(output=str(out)), report=lambda m: None)
    finally:
        torch.set_num_threads(threads)
    return out


@fallback
def test_json_has_all_fields_with_sane_values(cli, tiny_ptl):
    res = cli("bench", tiny_ptl, "--runs", 6, "--warmup", 1, "--image", "160x120", "--json", expect=0)
    doc = json_out(res)
    assert isinstance(doc, dict)
    assert set(REQUIRED) <= set(doc)
    assert set(REQUIRED) <= set(FIELDS)
    assert doc["runs"] == 6 and doc["warmup"] == 1 and doc["threads"] == 1
    assert len(doc["timings_ms"]) == 6
    assert 0 < doc["min_ms"] <= doc["p50_ms"] <= doc["p90_ms"] <= doc["p99_ms"] <= doc["max_ms"]
    assert doc["min_ms"] <= doc["mean_ms"] <= doc["max_ms"]
    assert doc["p50_ms"] == pytest.approx(float(np.percentile(doc["timings_ms"], 50)), abs=2e-3)
    assert doc["load_ms"] > 0 and doc["first_inference_ms"] > 0
    assert 10 < doc["peak_rss_mb"] < 64_000
    assert doc["rss_before_load_mb"] <= doc["peak_rss_mb"]
    assert doc["file_size_bytes"] == tiny_ptl.stat().st_size
    assert doc["torch_version"] == torch.__version__
    assert doc["input_kind"] == "image" and doc["input_shape"] == [120, 160, 3] and doc["input_dtype"] == "uint8"
    # phone-like defaults: one XNNPACK pool of N threads, OpenMP held at one passive thread
    assert doc["omp_num_threads"] == "1" and doc["omp_wait_policy"] == "PASSIVE"
    assert doc["omp_max_threads"] in (1, None) and doc["torch_num_threads"] >= 1
    assert isinstance(doc["xnnpack_ops"], bool)
    assert doc["xnnpack_ops"] == bool(doc["xnnpack_operators"])
    assert all(op.startswith("prepacked::") for op in doc["xnnpack_operators"])
    if doc["xnnpack_ops"]:
        assert doc["optimizer"] == "xnnpack"
    assert doc["quantization"] == "none" and doc["quantized_engine"] is None
    assert len(doc["model_sha256"]) == 64


@fallback
def test_csv_with_several_thread_counts(cli, tiny_ptl):
    res = cli("bench", tiny_ptl, "--threads", "1,2", "--threads", "2", "--runs", 2, "--warmup", 0,
              "--image", "96x64", "--csv", expect=0)
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["threads"] for r in rows] == ["1", "2"]  # duplicates dropped, order kept
    for r in rows:
        assert set(REQUIRED) <= set(r)
        assert float(r["p50_ms"]) > 0 and r["runs"] == "2"
    assert "timings_ms" not in rows[0]  # lists stay out of the CSV


@fallback
def test_human_output_and_rgba(cli, tiny_ptl, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    res = cli("bench", tiny_ptl, "--runs", 2, "--warmup", 0, "--image", "64x64", "--channels", 4,
              "--omp-threads", "auto", "--omp-wait-policy", "auto", expect=0)
    assert "p50" in res.stdout and "[64, 64, 4]" in res.stdout
    # 'auto' leaves OpenMP to torch: nothing set for the child (the defaults set 1 and PASSIVE)
    assert "OMP_NUM_THREADS=(unset) OMP_WAIT_POLICY=(unset)" in res.stdout


@fallback
@pytest.mark.parametrize("kind", ["missing", "text", "dir", "lite_without_manifest", "too_big"])
def test_errors_exit_2_with_one_line(cli, tiny_ptl, tmp_path, kind):
    args = []
    if kind == "missing":
        target = tmp_path / "nope.ptl"
    elif kind == "text":
        target = tmp_path / "model.ptl"
        target.write_text("not a model\n")
    elif kind == "dir":
        target = tmp_path
    elif kind == "lite_without_manifest":
        target = tmp_path / "plain.ptl"
        torch.jit.script(torch.nn.ReLU())._save_for_lite_interpreter(str(target))
    else:
        target, args = tiny_ptl, ["--image", "9000x100"]
    res = cli("bench", target, *args, "--runs", 1, "--json", expect=2)
    line = one_line_error(res)
    assert json_out(res) == {"error": line[len("edgepack: error: "):], "exit_code": 2}  # the only stdout
    assert {"missing": "no such file", "text": "not a TorchScript", "dir": "directory",
            "lite_without_manifest": "manifest", "too_big": "accepts sides"}[kind] in line


@fallback
def test_bad_options_are_usage_errors(cli, tiny_ptl):
    assert cli("bench", tiny_ptl, "--threads", "0").exit_code == 2
    assert cli("bench", tiny_ptl, "--image", "big").exit_code == 2
    assert cli("bench", tiny_ptl, "--json", "--csv").exit_code == 2


@fallback
def test_helpers():
    assert parse_threads(["1,2", "4", "2"]) == [1, 2, 4]
    stats = summarize({"timings_ms": [1.0, 2.0, 3.0, 4.0]})
    assert stats["p50_ms"] == 2.5 and stats["p90_ms"] == 3.7 and stats["min_ms"] == 1.0  # numpy linear
    frame = synthetic_frame(640, 480, 4)
    assert frame.shape == (480, 640, 4) and frame.dtype == torch.uint8
    # the Android demo's TestImage: R ramps in x, G in y, B a 32-px checkerboard, A opaque
    assert frame[0, 0].tolist() == [0, 0, 32, 255]
    assert frame[0, 32].tolist()[2] == 224 and frame[32, 32].tolist()[2] == 32
    assert frame[479, 639].tolist()[:2] == [255, 255]
    spec = input_spec({"input": {"kind": "tensor", "shape": [1, 3, 64, 64]}}, (640, 480), 3)
    assert spec["shape"] == [1, 3, 64, 64] and spec["kind"] == "tensor"
    with pytest.raises(EdgepackError):
        input_spec({"input": {"kind": "image", "channels": [3, 4], "min_side": 16, "max_side": 100}}, (640, 480), 3)


@fallback
def test_children_frame_matches_bench_frame():
    spec = importlib.util.spec_from_file_location("bench_children", ROOT / "benchmarks" / "children.py")
    children = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(children)
    assert np.array_equal(children.frame(101, 67), synthetic_frame(101, 67).numpy())


def test_run_benchmarks_quick(tmp_path):  # not in the fallback subset: it is the slow one
    variants = ["eager", "float", "dynamic"]
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
        variants.append("ort")
    out = tmp_path / "results"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "run_benchmarks.py"), "--quick", "--models", "resnet10t",
           "--num-classes", "4", "--input-size", "64", "--frame", "160x120", "--threads", "1",
           "--variants", ",".join(variants), "--runs", "2", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    assert doc["settings"]["quick"] is True and doc["machine"]["cpu"]
    assert "run_benchmarks.py" in doc["command"]
    got = {r["runtime"]: r for r in doc["results"] if r["group"] == "main"}
    expected = {"eager", "ptl-float", "ptl-dynamic"} | ({"ort"} if "ort" in variants else set())
    assert expected <= set(got)
    for r in got.values():
        assert r["median_ms"] > 0 and r["repetitions"] == 1 and not r.get("errors")
    assert doc["builds"]["resnet10t"]["float"]["ok"]
    assert doc["ratios"][0]["float_vs_eager"] > 0
    md = (out / "results.md").read_text()
    assert "| resnet10t |" in md and "Ratios against the goals" in md and "Issue 3" in md
    if importlib.util.find_spec("matplotlib"):
        assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@fallback
def test_device_results_parses_app_json_and_speed_benchmark_output(tmp_path):
    spec = importlib.util.spec_from_file_location("device_results", ROOT / "benchmarks" / "device_results.py")
    dr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(dr)
    app = {"load_ms": 200.0, "first_inference_ms": 60.0, "p50_ms": 19.7, "p90_ms": 21.8, "p99_ms": 21.9,
           "mean_ms": 19.9, "min_ms": 18.0, "runs": 50, "warmup": 10, "threads": 1, "input_shape": [480, 640, 4],
           "device": "Phone X"}
    (tmp_path / "app.txt").write_text("I EdgepackBench: BENCH_JSON " + json.dumps(app) + "\n")
    pep = "\n".join(['PyTorchObserver {"type": "NET", "unit": "us", "metric": "latency", "value": "%d"}' % v
                     for v in (1000, 2000, 3000, 4000)]) + "\nMain run finished. Microseconds per iter: 2500.\n"
    (tmp_path / "pep.txt").write_text(pep)
    db = tmp_path / "device.json"
    assert dr.main(["--db", str(db), "add", str(tmp_path / "app.txt"), "--device", "Phone X", "--model", "m",
                    "--variant", "float"]) == 0
    assert dr.main(["--db", str(db), "add", str(tmp_path / "pep.txt"), "--device", "Phone X", "--model", "m",
                    "--variant", "float", "--frame", "1920x1080"]) == 0
    records = json.loads(db.read_text())
    assert records[0]["p50_ms"] == 19.7 and records[0]["frame"] == "640x480" and records[0]["threads"] == 1
    assert records[1]["p50_ms"] == 2.5 and records[1]["p90_ms"] == 3.7 and records[1]["runs"] == 4
    assert "| Phone X | m | float |" in (tmp_path / "device.md").read_text()
    (tmp_path / "bad.txt").write_text("nothing here\n")
    assert dr.main(["--db", str(db), "add", str(tmp_path / "bad.txt"), "--device", "d", "--model", "m",
                    "--variant", "v"]) == 2
