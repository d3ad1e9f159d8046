"""TorchScript export of a network, and the Python API kept from the original AutoTimm feature.

(`export_checkpoint_to_torchscript`, which first rebuilds the network of a checkpoint, lives in
`sources`: this module imports nothing of edgepack's but `errors`, so `models` can use it.)

`script_or_trace` is the one place a network becomes TorchScript; `edgepack build` and the API
functions below both go through it. It puts the module in eval mode under `no_grad`, restores
the mode afterwards (also on failure), never reads Lightning's `.trainer` and never swaps the
module's class.
"""
from __future__ import annotations

import contextlib
import pathlib
from typing import Optional, Sequence, Union

import torch
from torch import nn

from .errors import EdgepackError

METHODS = ("trace", "script")


@contextlib.contextmanager
def _lightning_scripting(module: nn.Module):
    """Lightning's flag that hides trainer-dependent properties (`.trainer`, `.fabric`) while the
    JIT walks the module's attributes; used for tracing too, which walks them the same way."""
    try:
        from pytorch_lightning.core.module import _jit_is_scripting
    except ImportError:  # not a Lightning version that has it, or no Lightning
        yield
        return
    import pytorch_lightning as pl

    if isinstance(module, pl.LightningModule) or any(isinstance(m, pl.LightningModule) for m in module.modules()):
        with _jit_is_scripting():
            yield
    else:
        yield


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:240]
    return type(exc).__name__


def script_or_trace(module: nn.Module, method: str = "trace",
                    example_input: Optional[torch.Tensor] = None) -> torch.jit.ScriptModule:
    """TorchScript of `module` in eval mode; train/eval mode is restored afterwards."""
    if method not in METHODS:
        raise EdgepackError(f"unknown export method '{method}' (choose trace or script)")
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            if method == "script":
                try:
                    with _lightning_scripting(module):
                        return torch.jit.script(module)
                except Exception as exc:  # the compiler raises many types
                    raise EdgepackError(
                        f"cannot script {type(module).__name__}: {_first_line(exc)}; use --method trace"
                    ) from None
            if example_input is None:
                raise EdgepackError("tracing needs an example input")
            try:
                with _lightning_scripting(module):
                    return torch.jit.trace(module, example_input, check_trace=False)
            except Exception as exc:
                raise EdgepackError(f"cannot trace {type(module).__name__}: {_first_line(exc)}") from None
    finally:
        module.train(was_training)


def default_example_input(model: nn.Module) -> torch.Tensor:
    """[1, 3, H, W] zeros at the model's configured input size (224 when unknown)."""
    size = (224, 224)
    hparams = getattr(model, "hparams", None)
    cfg = hparams.get("data_config") if isinstance(hparams, dict) else None
    if isinstance(cfg, dict) and cfg.get("input_size"):
        size = tuple(cfg["input_size"][-2:])
    elif isinstance(getattr(model, "pretrained_cfg", None), dict) and model.pretrained_cfg.get("input_size"):
        size = tuple(model.pretrained_cfg["input_size"][-2:])
    return torch.zeros(1, 3, *size)


def export_to_torchscript(model: nn.Module, save_path: Union[str, pathlib.Path, None] = None,
                          example_input: Optional[torch.Tensor] = None, method: str = "trace",
                          **_ignored) -> torch.jit.ScriptModule:
    """Export `model` to full-JIT TorchScript and optionally `torch.jit.save` it.

    This is the plain TorchScript export of the original feature (a `.pt` for `torch.jit.load`).
    For phones use `edgepack.build` / `edgepack build`, which adds preprocessing, mobile
    optimisation, the lite-interpreter format and validation.
    """
    if example_input is None and method == "trace":
        example_input = default_example_input(model)
    scripted = script_or_trace(model, method, example_input)
    if save_path is not None:
        path = pathlib.Path(save_path)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            torch.jit.save(scripted, str(tmp))
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise EdgepackError(f"{save_path}: cannot write ({exc.strerror or exc})") from None
    return scripted


def load_torchscript(path: Union[str, pathlib.Path], device: str = "cpu") -> torch.jit.ScriptModule:
    """Load a TorchScript file saved by `export_to_torchscript`, in eval mode."""
    if not pathlib.Path(path).is_file():
        raise EdgepackError(f"{path}: no such file")
    try:
        module = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError) as exc:
        raise EdgepackError(f"{path}: not a loadable TorchScript file ({_first_line(exc)})") from None
    return module.eval()


def validate_torchscript_export(original: nn.Module, exported, example_input: torch.Tensor,
                                rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """True when `exported(example_input)` matches `original(example_input)` within tolerances."""
    was_training = original.training
    original.eval()
    try:
        with torch.no_grad():
            expected = original(example_input)
            actual = exported(example_input)
    finally:
        original.train(was_training)
    outs_a = expected if isinstance(expected, (tuple, list)) else [expected]
    outs_b = actual if isinstance(actual, (tuple, list)) else [actual]
    return len(outs_a) == len(outs_b) and all(
        a.shape == b.shape and torch.allclose(a.float(), b.float(), rtol=rtol, atol=atol) for a, b in zip(outs_a, outs_b)
    )


__all__: Sequence[str] = [
    "export_to_torchscript", "load_torchscript", "validate_torchscript_export", "script_or_trace",
]
