"""A model whose float outputs are NaN/inf (#14 rows 2 and 10): the build says the model is the
problem, once, before any optimisation level is tried, and never crashes (the strict-JSON manifest
used to abort the process with --accept-mismatch)."""
from __future__ import annotations

import copy

import pytest
import torch

from edgepack.manifest import read_manifest
from conftest import one_line_error, save_lightning_checkpoint

pytestmark = pytest.mark.fallback


def _broken_ckpt(tmp_path, tiny_classifier, how: str):
    model = copy.deepcopy(tiny_classifier)
    with torch.no_grad():
        if how == "nan":  # a BatchNorm running_var of -1: sqrt of a negative number
            bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
            bn.running_var.fill_(-1.0)
        else:  # finite weights whose logits overflow float32: inf, probabilities NaN
            linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
            linear.weight.fill_(3e38)
    return save_lightning_checkpoint(tmp_path / f"{how}.ckpt", model.eval(), dict(model.hparams),
                                     extra={"hparams_name": "kwargs"})


@pytest.mark.parametrize("how", ["nan", "inf"])
@pytest.mark.parametrize("accept", [False, True], ids=["plain", "accept-mismatch"])
def test_nan_model_is_named_as_the_problem(cli, tiny_classifier, tmp_path, how, accept):
    ckpt = _broken_ckpt(tmp_path, tiny_classifier, how)
    out = tmp_path / "m.ptl"
    res = cli("build", ckpt, "-o", out, *(["--accept-mismatch"] if accept else []), expect=2)
    line = one_line_error(res)
    assert "the float model itself" in line and "NaN or inf" in line and "nothing written" in line, line
    assert "retrying" not in res.stderr  # no optimisation level was tried
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


def test_file_that_outputs_nan_with_accept_mismatch_keeps_strict_json(cli, tiny_ckpt, tmp_path, monkeypatch):
    """The float model is fine but the written file answers NaN: the judge says so, and with
    --accept-mismatch the manifest records null figures (strict JSON) instead of crashing."""
    import edgepack.package as package

    real = package._run_lite
    monkeypatch.setattr(package, "_run_lite",
                        lambda path, inputs: [o * float("nan") for o in real(path, inputs)])
    out = tmp_path / "m.ptl"
    res = cli("build", tiny_ckpt, "-o", out, "--no-optimize", expect=1)
    assert "outputs NaN or inf where the float model does not" in one_line_error(res)
    assert not out.exists()
    res = cli("build", tiny_ckpt, "-o", out, "--no-optimize", "--accept-mismatch", "--json", expect=1)
    validation = read_manifest(out)["validation"]
    assert validation["passed"] is False and validation["max_rel_err"] is None


@pytest.mark.skipif(not torch.__version__.startswith("2.12."),
                    reason="executorch 1.3.1 (.pte) needs the pinned torch 2.12; the fallback leg runs 2.14")
def test_nan_model_pte(cli, tiny_classifier, tmp_path):
    pytest.importorskip("executorch")
    ckpt = _broken_ckpt(tmp_path, tiny_classifier, "nan")
    out = tmp_path / "m.pte"
    for extra in ([], ["--accept-mismatch"]):
        res = cli("build", ckpt, "-o", out, *extra, expect=2)
        line = one_line_error(res)
        assert "the float model itself" in line and "NaN or inf" in line, line
        assert not out.exists()
