"""Shared fixtures: small real checkpoints built on the fly, image folders, and a CLI runner."""
from __future__ import annotations

import json
import os
import pathlib
import random
import shutil
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE_CKPT = ROOT / "examples" / "shapes_regnet.ckpt"
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "scripts"))

import shapes  # noqa: E402
from bn_stats import randomize_batchnorm  # noqa: E402

from edgepack.cli import main  # noqa: E402
from edgepack.models import ImageClassifier  # noqa: E402

TINY_ARCH = "resnet10t"


def pytest_configure(config):
    torch.manual_seed(0)


def save_lightning_checkpoint(path, module: torch.nn.Module, hparams: dict, extra: dict | None = None) -> pathlib.Path:
    """A checkpoint laid out as Lightning writes it (without running a Trainer)."""
    ckpt = {
        "epoch": 1,
        "global_step": 10,
        "pytorch-lightning_version": "2.6.6",
        "state_dict": module.state_dict(),
        "hyper_parameters": hparams,
        "loops": {},
        "callbacks": {},
    }
    ckpt.update(extra or {})
    torch.save(ckpt, path)
    return pathlib.Path(path)


@pytest.fixture(scope="session")
def tiny_classifier():
    model = ImageClassifier(backbone=TINY_ARCH, num_classes=4, labels=["a", "b", "c", "d"],
                            data_config={"input_size": (3, 64, 64), "interpolation": "bilinear", "crop_pct": 0.9,
                                         "crop_mode": "center", "mean": (0.5, 0.5, 0.5), "std": (0.25, 0.25, 0.25)})
    # Untrained nets give near-constant outputs, which would make validation vacuous.
    randomize_batchnorm(model)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory, tiny_classifier):
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    return save_lightning_checkpoint(path, tiny_classifier, dict(tiny_classifier.hparams),
                                     extra={"hparams_name": "kwargs"})


SEG_LABELS = ["background"] + shapes.CLASSES


@pytest.fixture(scope="session")
def tiny_seg_ckpt(tmp_path_factory):
    """A SemanticSegmenter checkpoint (mobilenetv2_050 + light decoder, 7 classes: background and
    the shapes, 64 px squash), BatchNorm statistics randomised so that masks are not constant."""
    from edgepack.segmenter import SemanticSegmenter, segmentation_data_config

    torch.manual_seed(0)
    model = SemanticSegmenter("mobilenetv2_050", "light", len(SEG_LABELS), labels=SEG_LABELS,
                              data_config=segmentation_data_config(64, "squash", mean=(0.5, 0.5, 0.5),
                                                                   std=(0.25, 0.25, 0.25)))
    randomize_batchnorm(model)
    path = tmp_path_factory.mktemp("seg") / "seg.ckpt"
    return save_lightning_checkpoint(path, model.eval(), dict(model.hparams))


@pytest.fixture(scope="session")
def seg_dir(tmp_path_factory):
    """images/ + masks/ of generated shape scenes (values 0 = background, i + 1 = CLASSES[i])."""
    return shapes.generate_segmentation(tmp_path_factory.mktemp("segdata"), 8, seed=11)


@pytest.fixture(scope="session")
def example_ckpt():
    assert EXAMPLE_CKPT.exists(), "examples/shapes_regnet.ckpt is committed; run examples/train_shapes.py"
    return EXAMPLE_CKPT


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory):
    """A small labelled ImageFolder of generated shapes (val/calibration data)."""
    root = tmp_path_factory.mktemp("shapes")
    return shapes.generate(root, count_per_class=6, seed=123)


@pytest.fixture()
def cli():
    runner = CliRunner()

    def run(*args, expect=None):
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=True)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        if expect is not None:
            assert result.exit_code == expect, f"exit {result.exit_code}, stdout={result.stdout!r} stderr={result.stderr!r}"
        return result

    return run


def one_line_error(result) -> str:
    """The error a CLI run printed: exactly one line, no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("edgepack: error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    return lines[0]


def json_out(result) -> dict:
    return json.loads(result.stdout)


def random_image(seed: int, size=(96, 128)) -> torch.Tensor:
    rng = random.Random(seed)
    img = shapes.draw_shape(rng.choice(shapes.CLASSES), rng, (size[1], size[0]))
    import numpy as np

    return torch.from_numpy(np.array(img))


def process_command(*args, hook: str = "", drop_file_access: bool = False):
    """(argv, env) of the CLI as a real process: `python -c "<hook>; run()" ARGS`, i.e. the console
    entry point with this checkout's edgepack.

    `hook` is Python run first (to hold or break a stage, say). `drop_file_access` takes away
    root's power to read any file (CAP_DAC_OVERRIDE/READ_SEARCH), so a chmod-000 file is
    unreadable under root too, as it is for any other user.
    """
    code = f"{hook}\nfrom edgepack.cli import run\nrun()"
    cmd = [sys.executable, "-c", code, *[str(a) for a in args]]
    if drop_file_access and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        cmd = [setpriv, "--bounding-set=-dac_override,-dac_read_search", *cmd]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    return cmd, env


def run_process(*args, hook: str = "", drop_file_access: bool = False, timeout: float = 300, **kwargs):
    """Run the CLI as a real process (see `process_command`) to completion."""
    cmd, env = process_command(*args, hook=hook, drop_file_access=drop_file_access)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, **kwargs)


def process_error(proc) -> str:
    """The one error line of a CLI process, checked like `one_line_error`."""
    lines = [line for line in proc.stderr.splitlines() if line.startswith("edgepack: error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    return lines[0]
