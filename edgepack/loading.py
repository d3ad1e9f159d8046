"""What every source loader shares: `ModelSource` (a loaded network and the facts the build needs
about it), reading weight files safely, fitting them to an architecture with a one-line
explanation, and checking them. `edgepack.sources` (classifiers) and `edgepack.seg_sources`
(segmenters) both build on it.
"""
from __future__ import annotations

import difflib
import pathlib
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import timm
import torch
from torch import nn

from .checkpoints import load_checkpoint
from .errors import EdgepackError
from .files import check_input_file


@dataclass
class ModelSource:
    """A loaded network and the facts the package step needs about it."""

    model: nn.Module
    num_classes: int
    data_config: dict
    data_config_origin: str  # "checkpoint", "timm" or "default"
    arch: Optional[str] = None
    labels: Optional[List[str]] = None
    multi_label: bool = False
    info: Dict[str, Any] = field(default_factory=dict)  # manifest "source": kind, name, sha256, loader
    notes: List[str] = field(default_factory=list)  # what the user should be told
    task: str = "classification"  # or "segmentation": the network outputs logits [N, K, h, w]
    size_divisor: int = 1  # segmentation: network input sides must be multiples of this


def check_arch(name: str) -> None:
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see timm.list_models()"
        raise EdgepackError(f"unknown timm architecture '{name}'{hint}")


def strip_wrapper_prefixes(state_dict: Dict[str, Any]) -> Dict[str, Any]:
    """Drop `_orig_mod.` (torch.compile, at any depth) and a leading `module.` (DataParallel)."""
    out = {}
    for key, value in state_dict.items():
        parts = [p for p in key.split(".") if p != "_orig_mod"]
        if parts and parts[0] == "module":
            parts = parts[1:]
        out[".".join(parts)] = value
    return out


def load_weights(model: nn.Module, state_dict: Dict[str, Any], what: str) -> None:
    """`load_state_dict(strict=True)` with a one-line explanation instead of a wall of keys."""
    tensors = {k: v for k, v in state_dict.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise EdgepackError(f"{what}: contains no tensors")
    expected = model.state_dict()
    mismatched = [k for k, v in tensors.items() if k in expected and tuple(expected[k].shape) != tuple(v.shape)]
    missing = [k for k in expected if k not in tensors and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in tensors if k not in expected]
    if mismatched:
        k = mismatched[0]
        raise EdgepackError(
            f"{what}: does not fit the architecture: '{k}' has shape {list(tensors[k].shape)}, "
            f"model expects {list(expected[k].shape)} ({len(mismatched)} mismatched; wrong --arch or --num-classes?)"
        )
    if missing or unexpected:
        detail = []
        if missing:
            detail.append(f"{len(missing)} missing (e.g. '{missing[0]}')")
        if unexpected:
            detail.append(f"{len(unexpected)} unexpected (e.g. '{unexpected[0]}')")
        raise EdgepackError(f"{what}: state dict does not fit the architecture: {', '.join(detail)}; wrong --arch?")
    model.load_state_dict(tensors, strict=False)


def check_finite(model: nn.Module, what: str) -> None:
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise EdgepackError(f"{what}: weights contain NaN or Inf (first in '{name}'); the checkpoint is broken")


def _read_state_dict_file(path: pathlib.Path, trust: bool) -> tuple[Dict[str, Any], List[str]]:
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        check_input_file(path, "weights")
        try:
            return load_file(str(path)), []
        except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
            raise EdgepackError(f"{path}: cannot read safetensors file ({str(exc).splitlines()[0][:200]})") from None
    loaded = load_checkpoint(path, trust=trust)
    data = loaded.data
    if isinstance(data, dict):
        for key in ("state_dict", "model_state_dict", "model", "module"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict):
        raise EdgepackError(f"{path}: expected a state dict (name -> tensor), found {type(data).__name__}")
    return data, loaded.ignored
