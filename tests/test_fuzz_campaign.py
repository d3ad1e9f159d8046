"""CI's seeded slice of the fuzz campaign (benchmarks/fuzz_campaign.py, #14 item 6).

About 270 cases over every category and command (damaged model files of both formats, manifest
mutations of value and type, images, checkpoints, option values), in worker processes that the
campaign restarts after a crash and kills after a hang. Under two minutes on two cores; the image-
input .pte (a 30 s build) is left to the full campaign.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

CAMPAIGN = ROOT / "benchmarks" / "fuzz_campaign.py"
INJECTED = {"abort": 17, "hang": 42}


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz-campaign")
    cmd = [sys.executable, str(CAMPAIGN), "--scale", "0.06", "--seed", "14", "--no-image-pte", "--case-timeout", "40",
           "--jobs", "2", "--out", str(root / "fuzz.md"), "--json", str(root / "fuzz.json"),
           "--workdir", str(root / "work")]
    # Two injected failures test the campaign itself: a worker that aborts (SIGABRT) and one that
    # hangs must each be recorded against their case, and every other case must still run.
    env = dict(os.environ, EDGEPACK_FUZZ_SELFTEST=",".join(f"{k}:{v}" for k, v in INJECTED.items()))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert (root / "fuzz.json").exists(), proc.stderr[-3000:]
    return json.loads((root / "fuzz.json").read_text()), (root / "fuzz.md").read_text(), proc


def test_every_category_and_command_ran(campaign):
    doc, report, proc = campaign
    assert doc["cases"] >= 260
    ran = {tuple(key.split(" ")[:2]) for key in doc["by"]}
    for category in ("model-bytes", "manifest-type", "manifest-value", "image", "checkpoint", "options"):
        assert any(c == category for c, _ in ran), (category, sorted(ran))
    for command in ("predict", "inspect", "bench", "check", "build"):
        assert any(c == command for _, c in ran), (command, sorted(ran))
    kinds = {key.split(" ", 1)[1] for key in doc["kinds"] if key.startswith("flt.pte")}
    assert {"header", "program", "manifest", "segments"} <= kinds, kinds
    kinds = {key.split(" ", 1)[1] for key in doc["kinds"] if key.startswith("img.ptl")}
    assert {"weights", "bytecode", "code", "manifest", "zip-headers", "zip-directory"} <= kinds, kinds
    assert "## Byte flips per record kind" in report


def test_no_crash_no_traceback_no_hang(campaign):
    doc, report, proc = campaign
    injected = {INJECTED["abort"]: "crash", INJECTED["hang"]: "hang"}
    found = {f["case"]["id"]: f["case"]["outcome"] for f in doc["failures"]}
    assert found == injected, json.dumps([f for f in doc["failures"] if f["case"]["id"] not in injected][:5],
                                         indent=1, default=str)
    assert doc["totals"].get("not-run", 0) == 0
    codes = dict(doc["exit_codes"])
    assert codes.pop("-6") == 1 and codes.pop("None") == 1  # the injected abort and hang
    assert all(code in ("0", "1", "2") for code in codes), doc["exit_codes"]
    assert proc.returncode == 1  # the campaign fails when anything crashed or hung


def test_no_silent_wrong_answer(campaign):
    """Byte flips in weights change answers without a word unless the file carries integrity
    digests that predict verifies (#14 item 2, developed on its own branch): until then this is
    reported, as its own category, and expected to fail."""
    doc, report, proc = campaign
    silent = doc["totals"].get("silent-wrong-answer", 0)
    if silent and not doc["meta"]["probe"]["detected"]:
        pytest.xfail(f"{silent} silent wrong answers: this build has no integrity digests (#14 item 2)")
    assert silent == 0, json.dumps(doc["silent"][:5], indent=1, default=str)
