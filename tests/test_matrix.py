"""`edgepack matrix`: the grid, failed cells, resume, the report files and their JSON schema,
the recommendation, device results, and bad input.

One real run (tiny checkpoint, ptl+pte x none+dynamic, plus a damaged checkpoint whose cells
must fail as rows) is shared by the tests through a module fixture; the rest are unit tests of
the library functions or fail before anything is built."""
from __future__ import annotations

import json
import pathlib
import shutil

import pytest

from edgepack import matrix as mx
from edgepack.matrix_report import format_table

from conftest import json_out, one_line_error

FAST = ["--runs", "3", "--warmup", "0", "--image", "96x80"]


# ----------------------------------------------------------------------------------------------
# The real run
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def broken_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("broken") / "broken.ckpt"
    path.write_bytes(b"PK\x03\x04 this is not a checkpoint" * 10)
    return path


@pytest.fixture(scope="module")
def labelled_val(tmp_path_factory, shapes_dir):
    """Shapes images under the tiny model's class names (a..d), so the builds report accuracy."""
    root = tmp_path_factory.mktemp("val")
    images = sorted(p for p in shapes_dir.rglob("*.png"))[:12]
    for i, image in enumerate(images):
        (root / "abcd"[i % 4]).mkdir(exist_ok=True)
        shutil.copy(image, root / "abcd"[i % 4] / image.name)
    return root


@pytest.fixture(scope="module")
def matrix_run(tmp_path_factory, tiny_ckpt, labelled_val):
    from click.testing import CliRunner

    from edgepack.cli import main

    out = tmp_path_factory.mktemp("matrix") / "variants"
    args = ["matrix", str(tiny_ckpt), "--formats", "ptl,pte", "--quantize", "none,dynamic",
            "--val", str(labelled_val), "-o", str(out), *FAST]
    result = CliRunner().invoke(main, args)
    return {"args": args, "out": out, "result": result, "report": json.loads((out / "report.json").read_text())}


def _rerun(args, *extra):
    from click.testing import CliRunner

    from edgepack.cli import main

    return CliRunner().invoke(main, [*args, *extra])


def test_every_cell_is_built_validated_and_measured(matrix_run):
    report = matrix_run["report"]
    assert matrix_run["result"].exit_code == 0, matrix_run["result"].stderr
    names = [c["name"] for c in report["cells"]]
    assert names == ["tiny.float.ptl", "tiny.int8-dynamic.ptl", "tiny.float.pte", "tiny.int8-dynamic.pte"]
    assert [(c["format"], c["quantize"]) for c in report["cells"][:4]] == [
        ("ptl", "none"), ("ptl", "dynamic"), ("pte", "none"), ("pte", "dynamic")]
    out = matrix_run["out"]
    for cell in report["cells"][:4]:
        assert cell["status"] == "ok", cell
        path = out / cell["file"]
        assert path.suffix == "." + cell["format"] and path.is_file()
        assert path.stat().st_size == cell["size_bytes"]
        assert cell["validation"]["passed"] is True
        assert cell["bench"]["1"]["status"] == "ok" and cell["bench"]["1"]["p50_ms"] > 0


def test_failed_cells_are_rows_not_an_aborted_run(matrix_run, broken_ckpt):
    args = matrix_run["args"][:2] + [str(broken_ckpt)] + matrix_run["args"][2:]
    result = _rerun(args, "--formats", "ptl", "--json")
    assert result.exit_code == 0, result.stderr
    report = json_out(result)
    assert [c["status"] for c in report["cells"]] == ["ok", "ok", "failed", "failed"]
    for cell in report["cells"][2:]:  # the damaged checkpoint: refused by the build, one row each
        assert cell["exit_code"] == 2 and cell["reason"].startswith("refused: ") and "broken.ckpt" in cell["reason"]
        assert not (matrix_run["out"] / cell["name"]).exists()
        assert report["recommendation"]["lost"][cell["name"]] == cell["reason"]
    md = (matrix_run["out"] / "report.md").read_text()
    assert "| broken.float.ptl | refused: " in md
    # the damaged source built nothing, so it has no preprocessing to measure a reference with
    refs = {r["name"]: r for r in report["references"]}
    assert refs["broken.reference-eager"]["status"] == "failed"


def test_the_files_are_what_their_names_say(matrix_run):
    from edgepack.formats import describe

    for cell in matrix_run["report"]["cells"][:4]:
        info = describe(str(matrix_run["out"] / cell["file"]))
        manifest = info.get("manifest", info)
        assert manifest["format"] == cell["format"]
        assert (manifest.get("quantization") or {}).get("mode", "none") == cell["quantize"]


def test_report_json_schema(matrix_run):
    report = matrix_run["report"]
    assert report["schema"] == "edgepack-matrix/1"
    assert {"cells", "references", "recommendation", "machine", "settings", "created_utc", "wall_s", "plot"} <= set(report)
    assert "this machine only" in report["machine"]["note"] and report["machine"]["cpu"]
    assert report["settings"]["threads"] == [1] and report["settings"]["quantize"] == ["none", "dynamic"]
    for cell in report["cells"]:
        assert {"name", "source", "format", "quantize", "status", "reason", "key", "bench", "reused"} <= set(cell)
        if cell["status"] == "ok":
            assert isinstance(cell["size_bytes"], int) and len(cell["sha256"]) == 64
            assert isinstance(cell["build_s"], float) and cell["build_s"] > 0
            for k in ("top1_agreement", "max_abs_err", "accuracy", "float_accuracy", "accuracy_drop"):
                assert isinstance(cell["validation"][k], (int, float)), k
            b = cell["bench"]["1"]
            assert all(isinstance(b[k], float) for k in ("load_ms", "first_inference_ms", "p50_ms", "p90_ms"))
            assert b["runs"] == 3
    kinds = [r["kind"] for r in report["references"]]
    assert kinds[0] == "eager" and set(kinds) <= {"eager", "ort"}


def test_reference_rows_are_measured(matrix_run):
    refs = {r["name"]: r for r in matrix_run["report"]["references"]}
    eager = refs["tiny.reference-eager"]
    assert eager["status"] == "ok" and eager["bench"]["1"]["p50_ms"] > 0
    assert eager["validation"] == {}  # not measured: the float model, with PIL's resize; not claimed
    assert "PIL" in eager["bench"]["1"]["runtime"]
    if "tiny.reference-ort" in refs:
        ort = refs["tiny.reference-ort"]
        assert ort["status"] == "ok" and ort["size_bytes"] > 0 and ort["bench"]["1"]["p50_ms"] > 0


def test_recommendation_matches_the_measured_numbers(matrix_run):
    report = matrix_run["report"]
    rec = report["recommendation"]
    eligible = [c for c in report["cells"] if c["status"] == "ok" and c["validation"]["accuracy_drop"] <= 0.01]
    fastest = min(eligible, key=lambda c: (c["bench"]["1"]["p50_ms"], c["size_bytes"]))
    assert rec["choice"] == fastest["name"] and rec["file"] == fastest["file"]
    others = sorted((c for c in eligible if c is not fastest), key=lambda c: c["bench"]["1"]["p50_ms"])
    assert rec["runner_up"] == others[0]["name"]
    assert set(rec["lost"]) == {c["name"] for c in report["cells"]} - {fastest["name"]}


def test_table_report_md_and_plot(matrix_run):
    out, result = matrix_run["out"], matrix_run["result"]
    table = result.stdout
    assert "Recommended: " in table and all(len(line) <= 100 for line in table.splitlines())
    assert "> " + matrix_run["report"]["recommendation"]["choice"] in table
    md = (out / "report.md").read_text()
    assert "## Recommendation" in md and matrix_run["report"]["recommendation"]["file"] in md
    assert "this machine only" in md
    assert md.count("| tiny.") >= 4
    plot = out / "plot.png"
    if matrix_run["report"]["plot"]:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    else:
        assert "matplotlib" in matrix_run["report"]["plot_note"]
    assert "[1/4] tiny.float.ptl: building ..." in result.stderr  # progress per cell on stderr
    assert not list(out.glob(".*tmp*")), "temporary files left behind"


def test_rerun_reuses_unchanged_cells(matrix_run):
    out = matrix_run["out"]
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("tiny.*.pt?")}
    result = _rerun(matrix_run["args"], "--json")
    assert result.exit_code == 0, result.stderr
    report = json_out(result)
    ok = [c for c in report["cells"] if c["status"] == "ok"]
    assert all(c["reused"] for c in ok) and all(c["bench"]["1"]["reused"] for c in ok)
    tiny_lines = [line for line in result.stderr.splitlines() if "] tiny." in line]
    assert len(tiny_lines) == 4 and all(line.endswith(": reused (ok)") for line in tiny_lines), tiny_lines
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("tiny.*.pt?")} == mtimes
    assert report["recommendation"]["choice"] == matrix_run["report"]["recommendation"]["choice"]


def test_changed_file_is_rebuilt(matrix_run):
    out = matrix_run["out"]
    target = out / "tiny.float.ptl"
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")  # someone edited the file
    result = _rerun(matrix_run["args"], "--formats", "ptl", "--no-reference")
    assert result.exit_code == 0, result.stderr
    assert "tiny.float.ptl: building" in result.stderr and "tiny.int8-dynamic.ptl: reused" in result.stderr
    from edgepack.integrity import verify_ptl
    from edgepack.inspect import open_artifact

    verify_ptl(target, open_artifact(target))  # rebuilt whole


def test_device_results_rank_for_the_device(matrix_run, tmp_path):
    report = matrix_run["report"]
    cells = {c["name"]: c for c in report["cells"] if c["status"] == "ok"}
    # the phone finds the float .pte fastest, whatever this machine said
    lines = [f'I/Bench: BENCH_JSON {json.dumps({"model": c["file"], "p50_ms": 50.0 + i, "threads": 1, "device": "Pixel"})}'
             for i, c in enumerate(cells.values())]
    lines.append('I/Bench: BENCH_JSON ' + json.dumps({"model": "other.ptl", "model_sha256": cells["tiny.float.pte"]["sha256"],
                                                      "p50_ms": 3.0, "threads": 1}))
    (tmp_path / "device.log").write_text("noise\n" + "\n".join(lines) + "\n")
    result = _rerun(matrix_run["args"], "--device-results", str(tmp_path / "device.log"), "--json")
    assert result.exit_code == 0, result.stderr
    rec = json_out(result)["recommendation"]
    assert rec["choice"] == "tiny.float.pte" and rec["p50_ms"] == 3.0 and "device" in rec["ranked_by"]
    # a device file that names none of the files: nothing can be ranked, exit 1, report still written
    (tmp_path / "none.json").write_text(json.dumps([{"model": "x.ptl", "p50_ms": 1.0}]))
    result = _rerun(matrix_run["args"], "--device-results", str(tmp_path / "none.json"))
    assert result.exit_code == 1
    assert "No recommendation" in result.stdout
    assert json.loads((matrix_run["out"] / "report.json").read_text())["recommendation"]["choice"] is None


# ----------------------------------------------------------------------------------------------
# Library functions
# ----------------------------------------------------------------------------------------------

def _row(name, p50, drop=None, agree=1.0, size=1000, status="ok"):
    return {"name": name, "file": name + ".ptl", "status": status, "reason": None if status == "ok" else "refused: x",
            "size_bytes": size, "validation": {"accuracy_drop": drop, "top1_agreement": agree},
            "bench": {"1": {"status": "ok", "p50_ms": p50}}}


def test_recommend_picks_fastest_within_the_drop():
    rows = [_row("a", 5.0, 0.0), _row("b", 2.0, 0.03), _row("c", 3.0, 0.01), _row("d", 1.0, status="failed")]
    rec = mx.recommend(rows, 0.01, 1, use_device=False)
    assert rec["choice"] == "c" and rec["runner_up"] == "a"
    assert "> 1.00%" in rec["lost"]["b"] and rec["lost"]["d"] == "refused: x" and "slower" in rec["lost"]["a"]
    assert mx.recommend(rows, 0.05, 1, use_device=False)["choice"] == "b"
    assert mx.recommend(rows, 0.0, 1, use_device=False)["choice"] == "a"


def test_recommend_without_labels_uses_disagreement_and_ties_go_to_the_smaller_file():
    rows = [_row("a", 2.0, agree=0.97), _row("b", 2.0, agree=1.0, size=900), _row("c", 2.0, agree=1.0, size=1000)]
    rec = mx.recommend(rows, 0.01, 1, use_device=False)
    assert rec["choice"] == "b" and "disagreement 3.00%" in rec["lost"]["a"] and "larger file" in rec["lost"]["c"]
    assert "within 5%" in rec["why"]
    assert mx.recommend([], 0.01, 1, use_device=False)["choice"] is None


def test_plan_names_and_grid():
    opts = mx.MatrixOptions(out_dir="x", formats=["pte"], quantize=None, calib="c",
                            channels_last=[True, False], interpolation=["bilinear"])
    sources = [mx.SourceSpec("a/model.ckpt"), mx.SourceSpec("b/model.ckpt"), mx.SourceSpec("timm:resnet18")]
    cells = mx.plan(sources, opts)
    assert len(cells) == 3 * 3 * 2
    names = [c.name for c in cells]
    assert len(set(names)) == len(names)
    assert names[0] == "model.float.cl.bilinear.pte" and "model-2.int8-static.nocl.bilinear.pte" in names
    assert "resnet18.int8-dynamic.cl.bilinear.pte" in names
    args = cells[4].build_args(opts, pathlib.Path("o.pte"))  # model.int8-static.cl.bilinear
    assert args[:3] == ["a/model.ckpt", "-o", "o.pte"] and "--quantize" in args and "--calib" in args
    assert "--channels-last" in args and args[-2:] == ["--interpolation", "bilinear"]


def test_config_file(tmp_path, tiny_ckpt):
    cfg = tmp_path / "batch.toml"
    cfg.write_text(f'formats = ["ptl"]\nthreads = [1, 2]\nval = "val"\n\n[[source]]\npath = "{tiny_ckpt}"\n\n'
                   '[[source]]\npath = "timm:resnet18"\nnum_classes = 3\nweights = "w.pth"\n')
    doc = mx.load_config(str(cfg))
    assert doc["formats"] == ["ptl"] and doc["threads"] == [1, 2] and doc["val"] == str(tmp_path / "val")
    assert doc["sources"][0].source == str(tiny_ckpt)
    assert doc["sources"][1] == mx.SourceSpec("timm:resnet18", weights=str(tmp_path / "w.pth"), num_classes=3)


@pytest.mark.parametrize("text, message", [
    ("formatz = ['ptl']\n", "unknown key(s) formatz"),
    ("runs = 'many'\n", "runs = 'many': expected an integer >= 1"),
    ("[[source]]\narch = 'resnet18'\n", "source 1 has no path"),
    ("[[source]]\npath = 'x.ckpt'\nnum_classes = -1\n", "num_classes must be a positive integer"),
    ("source = 'x.ckpt'\n", "'source' must be an array of tables"),
    ("this is = not toml [", "not a valid TOML file"),
])
def test_bad_config_is_one_line(cli, tmp_path, text, message):
    cfg = tmp_path / "batch.toml"
    cfg.write_text(text)
    result = cli("matrix", "--config", cfg, "-o", tmp_path / "out", expect=2)
    assert message in one_line_error(result)


def test_device_results_parsing(tmp_path):
    good = tmp_path / "bench.json"
    good.write_text(json.dumps({"model": "a.pte", "p50_ms": 2.5, "threads": 1}))
    assert mx.load_device_results([str(good)])[0]["p50_ms"] == 2.5
    row = {"file": "a.pte", "sha256": "f" * 64}
    assert mx.match_device(row, mx.load_device_results([str(good)]))["p50_ms"] == 2.5
    for text, message in [("{", "not benchmark JSON"), ('{"model": "a", "p50_ms": -1}', "no positive p50_ms"),
                          ('{"p50_ms": 1}', "names no model"), ('[{"model": "a", "p50_ms": NaN}]', "no positive p50_ms")]:
        good.write_text(text)
        with pytest.raises(mx.EdgepackError, match=message):
            mx.load_device_results([str(good)])


@pytest.mark.parametrize("args, message", [
    ([], "no sources"),
    (["SRC", "--formats", "onnx"], "--formats: 'onnx' is not one of ptl, pte"),
    (["SRC", "--quantize", "static"], "--quantize static needs --calib"),
    (["SRC", "--max-accuracy-drop", "5"], "expected 0..1"),
    (["SRC", "--threads", "0"], "thread counts must be >= 1"),
    (["SRC", "--channels-last", "maybe"], "'maybe' is not one of"),
    (["missing.ckpt"], "missing.ckpt: no such file"),
    (["SRC", "--val", "nowhere"], "--val nowhere: not a folder of images"),
    (["SRC", "--device-results", "nowhere.json"], "nowhere.json: no such file"),
])
def test_bad_input_is_refused_before_building(cli, tmp_path, tiny_ckpt, args, message):
    args = [str(tiny_ckpt) if a == "SRC" else a for a in args]
    result = cli("matrix", *args, "-o", tmp_path / "out", expect=2)
    assert message in one_line_error(result)
    assert not list((tmp_path / "out").glob("*.pt?")) if (tmp_path / "out").exists() else True


def test_output_that_is_a_file_is_refused(cli, tmp_path, tiny_ckpt):
    target = tmp_path / "file"
    target.write_text("keep me")
    result = cli("matrix", tiny_ckpt, "-o", target, "--json", expect=2)
    doc = json_out(result)
    assert doc["exit_code"] == 2 and "is a file" in doc["error"]
    assert target.read_text() == "keep me"


def test_damaged_or_edited_cell_record_is_not_used(tmp_path):
    path = tmp_path / "cell.json"
    path.write_text('{"key": "abc", "build": {"sta')
    assert mx._read_record(path) is None
    path.write_text("[1, 2]")
    assert mx._read_record(path) is None
    good = {"key": "k", "bench": {"1": {"key": "b", "result": {"status": "ok", "p50_ms": 1.5, "load_ms": 3.0}}},
            "build": {"status": "ok", "file": "a.ptl", "sha256": "f" * 64, "size_bytes": 10, "build_s": 2.0,
                      "validation": {"passed": True, "top1_agreement": 1.0, "accuracy_drop": None},
                      "preprocess": {}}}
    path.write_text(json.dumps(good))
    assert mx._read_record(path) == good
    for edit in (lambda d: d["bench"]["1"]["result"].update(p50_ms="fast"),
                 lambda d: d["build"].update(size_bytes=None),
                 lambda d: d["build"]["validation"].update(top1_agreement="all"),
                 lambda d: d["build"].update(status="great"),
                 lambda d: d.update(bench=[1])):
        doc = json.loads(json.dumps(good))
        edit(doc)
        path.write_text(json.dumps(doc))
        assert mx._read_record(path) is None, doc


def test_table_fits_100_columns():
    report = {"settings": {"threads": [1, 2, 4]}, "cells": [dict(_row("a" * 60, 1.0, 0.0), format="ptl", build_s=3.0)],
              "references": [], "recommendation": mx.recommend([_row("a" * 60, 1.0, 0.0)], 0.01, 1, False)}
    report["settings"]["threads"] = [1, 2, 3, 4, 6, 8]
    report["cells"][0]["device"] = {"p50_ms": 7.0}
    for t in ("2", "3", "4", "6", "8"):
        report["cells"][0]["bench"][t] = {"status": "ok", "p50_ms": 1.5}
    table = format_table(report)
    assert all(len(line) <= 100 for line in table.splitlines()), table
    assert "~" in table  # the long name was shortened, not allowed to push the columns


def test_cli_help_lists_matrix(cli):
    assert "matrix" in cli("--help", expect=0).stdout


def test_sources_with_one_name_get_distinct_files_and_reference_rows():
    sources = [mx.SourceSpec("a/model.ckpt"), mx.SourceSpec("b/model.ckpt"), mx.SourceSpec("c/model-2.ckpt"),
               mx.SourceSpec("timm:")]
    assert mx.unique_stems(sources) == ["model", "model-2", "model-2-2", "timm"]
    names = [c.name for c in mx.plan(sources, mx.MatrixOptions(out_dir="x", formats=["ptl"], quantize=["none"]))]
    assert len(set(names)) == 4 and names[:2] == ["model.float.ptl", "model-2.float.ptl"]


def test_unwritable_output_is_one_line(cli, tmp_path, tiny_ckpt):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "cells").write_text("a file where the records go")
    result = cli("matrix", tiny_ckpt, "-o", tmp_path / "out", expect=2)
    assert "cannot write there" in one_line_error(result)


def test_every_input_of_a_cell_is_in_its_key(tmp_path):
    """Change any input and the cell is rebuilt; change nothing and it is reused."""
    import dataclasses

    vers = {"edgepack": "1", "edgepack_code": "c", "torch": "t", "timm": "m", "executorch": "e"}
    spec = mx.SourceSpec("m.ckpt", weights="w.pth", labels="l.txt")
    digests = {"m.ckpt": "d1", "w.pth": "d2", "l.txt": "d3", "cal": "d4", "val": "d5"}
    opts = mx.MatrixOptions(out_dir="x", calib="cal", val="val", max_side=640)
    cell = mx.Cell(spec, "pte", "static")

    def key(cell=cell, opts=opts, digests=digests, vers=vers):
        return mx.cell_key(cell, opts, digests, vers)

    base = key()
    assert key() == base
    changed = [
        key(digests=dict(digests, **{"m.ckpt": "x"})), key(digests=dict(digests, **{"w.pth": "x"})),
        key(digests=dict(digests, **{"l.txt": "x"})), key(digests=dict(digests, cal="x")),
        key(digests=dict(digests, val="x")), key(opts=dataclasses.replace(opts, calib_count=3)),
        key(opts=dataclasses.replace(opts, val_count=3)), key(opts=dataclasses.replace(opts, max_side=320)),
        key(cell=mx.Cell(spec, "ptl", "static")), key(cell=mx.Cell(spec, "pte", "dynamic")),
        key(cell=mx.Cell(spec, "pte", "static", channels_last=False)),
        key(cell=mx.Cell(spec, "pte", "static", interpolation="bilinear")),
        key(cell=mx.Cell(dataclasses.replace(spec, arch="resnet18"), "pte", "static")),
        key(cell=mx.Cell(dataclasses.replace(spec, num_classes=3), "pte", "static")),
        key(cell=mx.Cell(dataclasses.replace(spec, model_class="a:B"), "pte", "static")),
        key(cell=mx.Cell(dataclasses.replace(spec, trust_checkpoint=True), "pte", "static")),
    ] + [key(vers=dict(vers, **{k: "new"})) for k in vers]
    assert all(k != base for k in changed) and len(set(changed)) == len(changed)
    # what does not shape a .ptl does not rebuild it; paths are not in the key, bytes are
    ptl = mx.Cell(spec, "ptl", "none")
    assert mx.cell_key(ptl, opts, digests, vers) == mx.cell_key(ptl, dataclasses.replace(opts, max_side=320), digests,
                                                                 dict(vers, executorch="new"))
    moved = mx.Cell(mx.SourceSpec("elsewhere/m.ckpt", weights="w.pth", labels="l.txt"), "ptl", "none")
    assert mx.cell_key(moved, opts, dict(digests, **{"elsewhere/m.ckpt": "d1"}), vers) == \
        mx.cell_key(ptl, opts, digests, vers)
    b = mx.bench_key(opts, 1, "sha", dict(vers, machine="cpu A"))
    assert b != mx.bench_key(opts, 1, "sha", dict(vers, machine="cpu B"))
    assert b != mx.bench_key(opts, 2, "sha", dict(vers, machine="cpu A"))
    assert b == mx.bench_key(opts, 1, "sha", dict(vers, machine="cpu A", onnxruntime="9", python="3.99"))


def test_folder_digest_covers_images_only(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"1")
    first = mx._digest_path(str(tmp_path))
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    assert mx._digest_path(str(tmp_path)) == first
    (tmp_path / "a" / "x.png").write_bytes(b"2")
    assert mx._digest_path(str(tmp_path)) != first


def test_device_records_are_checked_and_matched_by_sha_first(tmp_path):
    path = tmp_path / "d.json"
    for rec, message in [({"model": "a", "p50_ms": 1, "threads": "2"}, "threads must be a positive integer"),
                         ({"model": "a", "p50_ms": float("inf")}, "no positive p50_ms"),
                         ("text", "is not a JSON object")]:
        path.write_text(json.dumps([rec]))
        with pytest.raises(mx.EdgepackError, match=message):
            mx.load_device_results([str(path)])
    path.write_text(json.dumps([{"model": "a.ptl", "model_sha256": "0" * 64, "p50_ms": 1.0, "p90_ms": "slow",
                                 "device": 5},
                                {"model": "b.ptl", "p50_ms": 2.0, "threads": 2},
                                {"model": "b.ptl", "p50_ms": 3.0, "threads": 1}]))
    recs = mx.load_device_results([str(path)])
    assert recs[0]["p90_ms"] is None and recs[0]["device"] is None
    # an old build's timing (another sha) never ranks the new file of that name
    assert mx.match_device({"file": "a.ptl", "sha256": "f" * 64}, recs) is None
    assert mx.match_device({"file": "a.ptl", "sha256": "0" * 64}, recs)["p50_ms"] == 1.0
    assert mx.match_device({"file": "b.ptl", "sha256": "f" * 64}, recs)["p50_ms"] == 3.0  # fewest threads


def test_json_report_is_found_after_library_noise():
    doc = {"output": "x.ptl", "manifest": {"a": {"b": 1}}}
    noisy = "some library printed this\n{not json\n" + json.dumps(doc, indent=2)
    assert mx._last_json_document(noisy) == doc
    assert mx._last_json_document("") == {} and mx._last_json_document("[1]\n") == {}


def test_output_inside_val_is_refused(cli, tmp_path, tiny_ckpt):
    (tmp_path / "val" / "a").mkdir(parents=True)
    result = cli("matrix", tiny_ckpt, "--val", tmp_path / "val", "-o", tmp_path / "val" / "out", expect=2)
    assert "inside --val" in one_line_error(result)


def test_edited_failed_record_cannot_break_the_row(tmp_path):
    out = tmp_path / "out"
    (out / "cells").mkdir(parents=True)
    cell = mx.plan([mx.SourceSpec("m.ckpt")], mx.MatrixOptions(out_dir=str(out), formats=["ptl"], quantize=["none"]))[0]
    record = {"key": "k", "bench": {}, "build": {"status": "failed", "exit_code": 1, "reason": "validation failed: x",
                                                 "bench": 5, "reused": "yes", "name": 7, "format": ["?"]}}
    (out / "cells" / f"{cell.name}.json").write_text(json.dumps(record))
    row = mx._run_cell(cell, mx.MatrixOptions(out_dir=str(out)), out, "k", {}, "[1/1]", lambda m: None)
    assert row["name"] == cell.name and row["format"] == "ptl" and row["bench"] == {} and row["reused"] is True
    assert row["reason"] == "validation failed: x"


def test_embedding_cells_pass_the_task_and_are_judged_by_retrieval_agreement():
    opts = mx.MatrixOptions(out_dir="x", formats=["ptl"], quantize=["none"], task="embedding")
    cell = mx.plan([mx.SourceSpec("timm:resnet18")], opts)[0]
    args = cell.build_args(opts, pathlib.Path("e.ptl"))
    assert args[args.index("--task") + 1] == "embedding"
    vers = {"edgepack": "1"}
    assert mx.cell_key(cell, opts, {}, vers) != mx.cell_key(cell, mx.MatrixOptions(out_dir="x"), {}, vers)
    # the manifests' validation sections: embedding, int8 classifier, float classifier
    assert mx.judged_agreement({"retrieval_top1_agreement": 0.97, "min_cosine": 0.999}) == 0.97
    assert mx.judged_agreement({"judged_top1_agreement": 0.9, "top1_agreement": 0.95}) == 0.9
    assert mx.judged_agreement({"top1_agreement": 1.0}) == 1.0 and mx.judged_agreement({}) is None


def test_config_task_is_checked(cli, tmp_path):
    cfg = tmp_path / "batch.toml"
    cfg.write_text('task = "detection"\n')
    result = cli("matrix", "--config", cfg, "-o", tmp_path / "out", expect=2)
    assert "task = 'detection': expected classification or embedding" in one_line_error(result)


def test_config_file_run_is_the_same_run(matrix_run, tiny_ckpt, labelled_val, tmp_path):
    """The TOML batch with the options of the command line maps to the same cells: every one is
    reused, with the same keys."""
    cfg = tmp_path / "batch.toml"
    cfg.write_text(f'formats = ["ptl", "pte"]\nquantize = "none,dynamic"\nval = "{labelled_val}"\nruns = 3\n'
                   f'warmup = 0\nimage = "96x80"\n\n[[source]]\npath = "{tiny_ckpt}"\n')
    result = _rerun(["matrix", "--config", str(cfg), "-o", str(matrix_run["out"]), "--json"])
    assert result.exit_code == 0, result.stderr
    report = json_out(result)
    assert [c["name"] for c in report["cells"]] == [c["name"] for c in matrix_run["report"]["cells"]]
    assert all(c["reused"] and c["bench"]["1"]["reused"] for c in report["cells"])
    # same inputs, same keys (an earlier test rebuilt one file, so its timing, not its key, moved)
    assert [c["key"] for c in report["cells"]] == [c["key"] for c in matrix_run["report"]["cells"]]
