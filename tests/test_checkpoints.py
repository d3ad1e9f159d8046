"""Loading checkpoints never runs code hidden in them; harmless extras still load."""
from __future__ import annotations

import argparse
import enum
import fractions
import os
import re
import pathlib
import sys
import types

import pytest
import torch

from edgepack.checkpoints import TRUST_HINT, load_checkpoint
from edgepack.errors import EdgepackError, UntrustedCheckpointError
from edgepack.sources import load_source
from conftest import TINY_ARCH, one_line_error, save_lightning_checkpoint



class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvilEval:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').write('x')",))


class _Holder:
    """An object whose state nests the payload (pickled as class + BUILD state)."""

    def __init__(self, payload):
        self.payload = payload


def _payloads(marker):
    return {
        "reduce_os_system": {"state_dict": {}, "x": _Evil(marker)},
        "reduce_eval": {"state_dict": {}, "x": _EvilEval(marker)},
        "nested_object": {"state_dict": {}, "x": [{"deep": _Holder(_Evil(marker))}]},
        "in_hyper_parameters": {"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {"backbone": "resnet18",
                                                                                        "num_classes": 2,
                                                                                        "cfg": _Evil(marker)}},
    }


@pytest.mark.fallback
@pytest.mark.parametrize("kind", ["reduce_os_system", "reduce_eval", "nested_object", "in_hyper_parameters"])
def test_malicious_pickles_are_refused_without_running(kind, tmp_path, cli):
    marker = tmp_path / "pwned"
    path = tmp_path / f"{kind}.ckpt"
    torch.save(_payloads(marker)[kind], path)
    # edgepack's own refusal, naming what it refused: without it, torch's weights-only loader still
    # fails and the message still ends with the --trust-checkpoint hint, so matching the flag
    # alone would pass with edgepack's check gone
    refusal = rf"{re.escape(str(path))}: refusing to unpickle .+ \(could run code\); {re.escape(TRUST_HINT)}$"
    with pytest.raises(UntrustedCheckpointError, match=refusal):
        load_checkpoint(path)
    res = cli("build", path, "-o", tmp_path / "x.ptl", expect=2)
    assert re.fullmatch(f"edgepack: error: {refusal}", one_line_error(res))
    assert not marker.exists(), "pickled code ran"
    assert not (tmp_path / "x.ptl").exists()


def test_trust_checkpoint_does_unpickle(tmp_path, tiny_classifier, cli):
    """A checkpoint holding an object of an installed class that is not on the allow-list
    (fractions.Fraction: harmless, but the loader cannot know that) is refused by default and
    loads with --trust-checkpoint, from the library and from the CLI."""
    hp = dict(tiny_classifier.hparams, ratio=fractions.Fraction(1, 3))
    path = save_lightning_checkpoint(tmp_path / "fraction.ckpt", tiny_classifier, hp)
    with pytest.raises(UntrustedCheckpointError, match="refusing to unpickle fractions.Fraction"):
        load_checkpoint(path)
    loaded = load_checkpoint(path, trust=True)
    assert loaded.trusted and loaded.data["hyper_parameters"]["ratio"] == fractions.Fraction(1, 3)
    res = cli("build", path, "-o", tmp_path / "x.ptl", "--no-optimize", expect=2)
    assert "refusing to unpickle fractions.Fraction" in one_line_error(res)
    assert not (tmp_path / "x.ptl").exists()
    cli("build", path, "-o", tmp_path / "x.ptl", "--no-optimize", "--trust-checkpoint", expect=0)
    assert (tmp_path / "x.ptl").exists()


class Color(enum.Enum):
    RED = "red"


def test_harmless_standard_types_load(tmp_path):
    path = tmp_path / "ok.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2)},
                "hyper_parameters": {"args": argparse.Namespace(lr=0.1, name="x"),
                                     "root": pathlib.PosixPath("/data/train"),
                                     "ordered": {"a": 1}}}, path)
    data = load_checkpoint(path).data
    assert data["hyper_parameters"]["args"].lr == 0.1
    assert data["hyper_parameters"]["root"] == pathlib.PosixPath("/data/train")


def test_own_enums_load(tmp_path):
    from edgepack.preprocess import CropMode

    path = tmp_path / "enum.ckpt"
    torch.save({"state_dict": {}, "mode": CropMode.CENTER}, path)
    assert load_checkpoint(path).data["mode"] is CropMode.CENTER


def _fake_autotimm_classes():
    """Classes as AutoTimm defines them, under a module name that is not installed here."""
    mod = types.ModuleType("autotimm_fake_pkg.data")

    class TransformConfig:
        def __init__(self, image_size=224, preset="default"):
            self.image_size = image_size
            self.preset = preset

    TransformConfig.__module__ = mod.__name__
    TransformConfig.__qualname__ = "TransformConfig"
    mod.TransformConfig = TransformConfig
    return mod


@pytest.mark.fallback
def test_autotimm_style_checkpoint_builds_without_autotimm(tmp_path, cli, monkeypatch):
    import timm

    from edgepack.models import TimmClassifier

    net = TimmClassifier(TINY_ARCH, 3).eval()
    # AutoTimm layout: backbone.* + head.fc.*, compiled with torch.compile (_orig_mod.)
    state = {k.replace("backbone.", "backbone._orig_mod.", 1): v for k, v in net.state_dict().items()}
    mod = _fake_autotimm_classes()
    # "Installed" only while saving, as if the checkpoint came from a machine with AutoTimm.
    monkeypatch.setitem(sys.modules, "autotimm_fake_pkg", types.ModuleType("autotimm_fake_pkg"))
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    path = tmp_path / "autotimm.ckpt"
    torch.save({"state_dict": state,
                "hyper_parameters": {"backbone": TINY_ARCH, "num_classes": 3, "lr": 1e-3},
                "datamodule_hyper_parameters": {"transform_config": mod.TransformConfig(image_size=96)}}, path)
    monkeypatch.delitem(sys.modules, mod.__name__)
    monkeypatch.delitem(sys.modules, "autotimm_fake_pkg")

    src = load_source(str(path))
    assert any("autotimm_fake_pkg.data.TransformConfig" in n for n in src.notes)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(src.model(x), net(x))
    res = cli("build", path, "-o", tmp_path / "a.ptl", "--image-size", "64", expect=0)
    assert "ignored pickled object" in res.stderr
    assert timm.is_model(TINY_ARCH)


@pytest.mark.parametrize("content,reason", [
    (b"", "empty"),
    (b"hello, I am a text file\n", "not a PyTorch checkpoint"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not a PyTorch checkpoint"),
    (b"PK\x03\x04garbage", "corrupt"),
])
def test_broken_files(tmp_path, content, reason):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(content)
    with pytest.raises(EdgepackError, match=reason):
        load_checkpoint(path)


def test_truncated_checkpoint(tmp_path, tiny_ckpt):
    data = tiny_ckpt.read_bytes()
    path = tmp_path / "trunc.ckpt"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(EdgepackError):
        load_checkpoint(path)


def test_zip_that_is_not_a_checkpoint(tmp_path):
    import zipfile

    path = tmp_path / "x.ckpt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(EdgepackError, match="not a torch.save file"):
        load_checkpoint(path)


def test_nan_weights_are_rejected(tmp_path, tiny_classifier, cli):
    state = {k: v.clone() for k, v in tiny_classifier.state_dict().items()}
    state["head.fc.weight"][0, 0] = float("nan")
    path = tmp_path / "nan.ckpt"
    net = tiny_classifier
    save_lightning_checkpoint(path, net, dict(net.hparams))
    ckpt = torch.load(path, weights_only=True)
    ckpt["state_dict"] = state
    torch.save(ckpt, path)
    res = cli("build", path, "-o", tmp_path / "n.ptl", expect=2)
    assert "NaN or Inf" in one_line_error(res)
