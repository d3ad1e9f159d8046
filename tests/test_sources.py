"""Every source kind, the Python API kept from the original feature, and source errors."""
from __future__ import annotations

import textwrap

import pytest
import timm
import torch
from safetensors.torch import save_file

import edgepack
from edgepack.errors import EdgepackError
from edgepack.sources import load_source
from conftest import TINY_ARCH, one_line_error, save_lightning_checkpoint



@pytest.fixture(scope="module")
def timm_net():
    return timm.create_model(TINY_ARCH, pretrained=False, num_classes=7).eval()


@pytest.mark.fallback
def test_own_checkpoint(tiny_ckpt, tiny_classifier):
    src = load_source(str(tiny_ckpt))
    assert src.num_classes == 4 and src.labels == ["a", "b", "c", "d"]
    assert src.data_config["input_size"] == [3, 64, 64] and src.data_config_origin == "checkpoint"
    assert src.info["loader"] == "edgepack.ImageClassifier"
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(src.model(x), tiny_classifier(x))


@pytest.mark.parametrize("suffix", [".pth", ".safetensors", ".bin"])
def test_state_dict_with_arch_infers_num_classes(timm_net, tmp_path, suffix, cli):
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in timm_net.state_dict().items()}, str(path))
    else:
        torch.save(timm_net.state_dict(), path)
    src = load_source(str(path), arch=TINY_ARCH)
    assert src.num_classes == 7 and src.info["kind"] == "state-dict"
    res = cli("build", path, "-o", tmp_path / "x.ptl", expect=2)
    assert "--arch" in one_line_error(res)


def test_timm_source_with_weights_and_compile_prefix(timm_net, tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"model": {f"_orig_mod.{k}": v for k, v in timm_net.state_dict().items()}}, path)
    src = load_source(f"timm:{TINY_ARCH}", weights=str(path))
    assert src.num_classes == 7
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(src.model(x), timm_net(x))


def test_timm_without_weights_is_said(cli, tmp_path):
    src = load_source(f"timm:{TINY_ARCH}", num_classes=3)
    assert src.num_classes == 3 and any("random weights" in n for n in src.notes)


@pytest.mark.parametrize("args,reason", [
    (["timm:resnet_does_not_exist"], "unknown timm architecture"),
    (["missing.ckpt"], "no such file"),
    (["timm:resnet18", "--weights", "missing.pth"], "no such file"),
])
def test_source_errors(cli, tmp_path, args, reason):
    res = cli("build", *args, "-o", tmp_path / "x.ptl", expect=2)
    assert reason in one_line_error(res)


def test_wrong_architecture_and_num_classes(cli, timm_net, tmp_path):
    path = tmp_path / "w.pth"
    torch.save(timm_net.state_dict(), path)
    res = cli("build", path, "--arch", "mobilenetv3_small_050", "-o", tmp_path / "x.ptl", expect=2)
    assert "does not fit the architecture" in one_line_error(res)
    res = cli("build", path, "--arch", TINY_ARCH, "--num-classes", "3", "-o", tmp_path / "x.ptl", expect=2)
    assert "--num-classes 3 disagrees with" in one_line_error(res) and "has 7 classes" in one_line_error(res)


def test_checkpoint_without_backbone_needs_model_class(tmp_path, cli):
    path = tmp_path / "other.ckpt"
    save_lightning_checkpoint(path, torch.nn.Linear(2, 2), {"hidden": 3})
    res = cli("build", path, "-o", tmp_path / "x.ptl", expect=2)
    assert "--model-class" in one_line_error(res)


@pytest.mark.fallback
def test_model_class_source(tmp_path, cli, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(textwrap.dedent("""
        import pytorch_lightning as pl
        import torch
        from torch import nn

        class SmallNet(pl.LightningModule):
            def __init__(self, width=8, classes=3):
                super().__init__()
                self.save_hyperparameters()
                self.features = nn.Sequential(nn.Conv2d(3, width, 3, stride=2), nn.BatchNorm2d(width), nn.ReLU(),
                                              nn.AdaptiveAvgPool2d(1), nn.Flatten())
                self.fc = nn.Linear(width, classes)

            def forward(self, x):
                return self.fc(self.features(x))
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    from mypkg.nets import SmallNet

    net = SmallNet(width=6, classes=3).eval()
    ckpt = save_lightning_checkpoint(tmp_path / "small.ckpt", net, dict(net.hparams))
    res = cli("build", ckpt, "--model-class", "mypkg.nets:SmallNet", "--image-size", "48", "-o", tmp_path / "s.ptl",
              expect=0)
    assert (tmp_path / "s.ptl").exists(), res.stderr
    res = cli("build", ckpt, "--model-class", "mypkg.nets:Nope", "-o", tmp_path / "t.ptl", expect=2)
    assert "not an nn.Module class" in one_line_error(res)
    res = cli("build", ckpt, "--model-class", "mypkg.nets:SmallNet", "--num-classes", "5", "-o", tmp_path / "t.ptl",
              expect=2)
    assert "--num-classes 5 disagrees with" in one_line_error(res) and "outputs 3 classes" in one_line_error(res)


# --- Python API kept from the original feature ---------------------------------------------

def test_image_classifier_to_torchscript_without_trainer(tiny_classifier, tmp_path):
    x = torch.randn(1, 3, 64, 64)
    tiny_classifier.train()
    tiny_classifier.eval()
    with torch.no_grad():
        expected = tiny_classifier(x)
    tiny_classifier.train()
    try:
        for method in ("trace", "script"):
            scripted = tiny_classifier.to_torchscript(method=method)  # no path, no trainer
            assert tiny_classifier.training, "train/eval mode must be restored"
            with torch.no_grad():
                torch.testing.assert_close(scripted(x), expected, msg=method)
        path = tmp_path / "m.pt"
        tiny_classifier.to_torchscript(save_path=path)
        loaded = edgepack.load_torchscript(path)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), expected)
        assert type(tiny_classifier) is edgepack.ImageClassifier
    finally:
        tiny_classifier.eval()  # a session fixture: leave it as it came


@pytest.mark.parametrize("arch", ["resnet18", "mobilenetv3_small_050", "efficientnet_b0"])
def test_timm_models_that_timm_scripts_can_be_scripted(arch):
    model = timm.create_model(arch, pretrained=False, num_classes=5).eval()
    scripted = edgepack.export_to_torchscript(model, method="script")
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x))


def test_validate_torchscript_export_detects_a_mismatch(tiny_classifier):
    x = torch.randn(2, 3, 64, 64)
    traced = edgepack.export_to_torchscript(tiny_classifier, example_input=x)
    assert edgepack.validate_torchscript_export(tiny_classifier, traced, x) is True

    class Off(torch.nn.Module):
        def __init__(self, inner, delta):
            super().__init__()
            self.inner, self.delta = inner, delta

        def forward(self, x):
            return self.inner(x) + self.delta

    assert edgepack.validate_torchscript_export(tiny_classifier, Off(traced, 1e-2), x) is False
    assert edgepack.validate_torchscript_export(tiny_classifier, Off(traced, 1e-7), x) is True  # within atol
    assert edgepack.validate_torchscript_export(tiny_classifier, lambda t: traced(t)[:, :3], x) is False  # shape
    assert edgepack.validate_torchscript_export(tiny_classifier, lambda t: (traced(t), traced(t)), x) is False


def test_unscriptable_model_gets_one_line_advice():
    class Dynamic(torch.nn.Module):
        def forward(self, x):
            return x * len({"a": x}.items().__iter__.__name__)

    model = Dynamic()
    with pytest.raises(EdgepackError, match="use --method trace"):
        edgepack.export_to_torchscript(model, method="script")
    assert type(model) is Dynamic


def test_export_checkpoint_to_torchscript(tiny_ckpt, tiny_classifier, tmp_path):
    out = tmp_path / "c.pt"
    edgepack.export_checkpoint_to_torchscript(tiny_ckpt, out)
    loaded = edgepack.load_torchscript(out)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), tiny_classifier(x))
    with pytest.raises(EdgepackError):
        edgepack.load_torchscript(tmp_path / "missing.pt")


def test_checkpoint_cannot_make_timm_load_other_files(tmp_path, cli, tiny_classifier):
    hp = dict(tiny_classifier.hparams, backbone_kwargs={"checkpoint_path": "/etc/passwd"})
    path = save_lightning_checkpoint(tmp_path / "evil.ckpt", tiny_classifier, hp)
    res = cli("build", path, "-o", tmp_path / "x.ptl", expect=2)
    assert "refusing backbone_kwargs checkpoint_path" in one_line_error(res)
