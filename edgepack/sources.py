"""Turning a SOURCE argument into a float, eval-mode network plus what we know about it.

Sources (see DESIGN.md): a Lightning `.ckpt` (edgepack's `ImageClassifier`, any checkpoint whose
hyper-parameters name a timm backbone, or any LightningModule with `model_class`), `timm:NAME`
(optionally with weights), or a plain state dict with `arch`. Everything is rebuilt from code that
is installed here; checkpoints only ever provide data.
"""
from __future__ import annotations

import importlib
import os
import pathlib
import sys
from typing import Any, Dict, List, Optional

import timm
import torch
from torch import nn

from .checkpoints import IgnoredObject, load_checkpoint
from .loading import (ModelSource, _read_state_dict_file, check_arch, check_finite, load_weights,  # noqa: F401
                      strip_wrapper_prefixes)
from .errors import EdgepackError
from .files import check_input_file, sha256_file
from .models import TimmClassifier, plain_data_config
from .preprocess import parse_image_size

STATE_DICT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
CHECKPOINT_SUFFIXES = (".ckpt",)
INIT_SEED = 0  # torch.manual_seed for timm:NAME without weights (recorded in the manifest's source)


def _classifier_classes(model: nn.Module, state_dict: Dict[str, Any]) -> Optional[int]:
    """Number of classes implied by the classifier weight of a timm state dict."""
    classifier = (getattr(model, "pretrained_cfg", None) or {}).get("classifier") or "fc"
    names = classifier if isinstance(classifier, (list, tuple)) else [classifier]
    for name in names:
        weight = state_dict.get(f"{name}.weight")
        if isinstance(weight, torch.Tensor) and weight.dim() >= 1:
            return int(weight.shape[0])
    return None


def _timm_data_config(model: nn.Module) -> dict:
    return plain_data_config(timm.data.resolve_data_config({}, model=model))


def from_timm(name: str, weights: Optional[str] = None, num_classes: Optional[int] = None,
              trust: bool = False, kind: str = "timm") -> ModelSource:
    """`timm:NAME` (optionally `--weights FILE`) or a state-dict file with `--arch NAME`."""
    check_arch(name)
    notes: List[str] = []
    state_dict = None
    info: Dict[str, Any] = {"kind": kind, "arch": name, "loader": "timm.create_model"}
    if weights is not None:
        wpath = pathlib.Path(weights)
        state_dict, ignored = _read_state_dict_file(wpath, trust)
        state_dict = strip_wrapper_prefixes(state_dict)
        notes += [f"ignored pickled object of uninstalled class {n}" for n in ignored]
        info.update(name=wpath.name, sha256=sha256_file(wpath))
    else:
        info.update(name=f"timm:{name}", sha256=None, init_seed=INIT_SEED)
        notes.append(f"no weights given: the network has random weights (pretrained=False), initialised from "
                     f"torch.manual_seed({INIT_SEED}) so that builds are reproducible")
    # timm initialises every layer from torch's global generator: seed it, in a forked RNG state so
    # that the caller's stream is left as it was. Without weights this makes the random network
    # (and so the file) the same on every run; with weights every value is overwritten anyway.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(INIT_SEED)
        probe = timm.create_model(name, pretrained=False)
        found = _classifier_classes(probe, state_dict) if state_dict is not None else None
        if num_classes is not None and found is not None and int(num_classes) != found:
            raise EdgepackError(f"--num-classes {num_classes} disagrees with {weights}, whose classifier has {found} "
                                "classes; drop --num-classes (trained weights decide it), or check --arch")
        if num_classes is None:
            num_classes = found if found is not None else probe.num_classes
        torch.manual_seed(INIT_SEED)
        try:
            model = timm.create_model(name, pretrained=False, num_classes=int(num_classes))
        except Exception as exc:  # timm raises many types for bad kwargs
            raise EdgepackError(f"cannot create timm model '{name}': {str(exc).splitlines()[0][:200]}") from None
    if state_dict is not None:
        load_weights(model, state_dict, str(weights))
    return ModelSource(model=model.eval(), num_classes=int(num_classes), data_config=_timm_data_config(model),
                       data_config_origin="timm", arch=name, info=info, notes=notes)


def _labels_from(hp: dict) -> Optional[List[str]]:
    for key in ("labels", "class_names", "classes"):
        value = hp.get(key)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, (str, int)) for v in value):
            return [str(v) for v in value]
    return None


def _backbone_name(value: Any) -> Optional[str]:
    """AutoTimm accepts a backbone name or a config object (a placeholder here)."""
    if isinstance(value, str):
        return value
    if isinstance(value, IgnoredObject):
        state = value._state if isinstance(value._state, dict) else {}
        for key in ("model_name", "name", "backbone"):
            if isinstance(state.get(key), str):
                return state[key]
        if value._args and isinstance(value._args[0], str):
            return value._args[0]
    if isinstance(value, dict):
        for key in ("model_name", "name"):
            if isinstance(value.get(key), str):
                return value[key]
    return None


# timm.create_model keywords that would make timm read other files or fetch weights: a checkpoint's
# hyper-parameters must not be able to do that behind edgepack's loader.
_FORBIDDEN_BACKBONE_KWARGS = ("checkpoint_path", "pretrained", "pretrained_cfg", "pretrained_cfg_overlay",
                              "cache_dir", "pretrained_strict")


def _safe_backbone_kwargs(value: Any, where) -> Dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise EdgepackError(f"{where}: backbone_kwargs in the checkpoint is not a plain dict")
    bad = [k for k in value if k in _FORBIDDEN_BACKBONE_KWARGS or k.startswith("pretrained")]
    if bad:
        raise EdgepackError(f"{where}: refusing backbone_kwargs {', '.join(bad)} from the checkpoint "
                            "(they would make timm load other files)")
    plain = (str, int, float, bool, type(None), list, tuple)
    return {k: v for k, v in value.items() if isinstance(v, plain)}


def import_model_class(spec: str):
    """`pkg.module:Class` -> the class; the current directory is importable, like `python -m`."""
    if ":" not in spec:
        raise EdgepackError(f"--model-class '{spec}': expected the form pkg.module:ClassName")
    module_name, _, class_name = spec.partition(":")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or whatever the user's module raises while importing
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise EdgepackError(f"--model-class: cannot import module '{module_name}' ({first})") from None
    finally:
        if added:
            sys.path.remove(cwd)
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise EdgepackError(f"--model-class: '{class_name}' in '{module_name}' is not an nn.Module class")
    return cls


def _probe_num_classes(model: nn.Module, size, what: str, task: str = "classification") -> int:
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 3, size[0], size[1]))
    except Exception as exc:  # the user's own forward: any exception type
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise EdgepackError(f"--model-class {what}: forward failed on a [1, 3, {size[0]}, {size[1]}] input ({first})") from None
    if isinstance(out, dict) and task == "segmentation":
        out = out.get("out")
    if isinstance(out, (tuple, list)):
        out = out[0]
    if task == "segmentation":
        if not isinstance(out, torch.Tensor) or out.dim() != 4:
            raise EdgepackError("a segmentation model's forward must return logits of shape [N, num_classes, h, w]")
        return int(out.shape[1])
    if isinstance(out, torch.Tensor) and out.dim() == 4:
        raise EdgepackError("the model's forward returns [N, K, h, w]: a segmentation model? pass --task segmentation "
                            "(classifiers must return logits of shape [N, num_classes])")
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise EdgepackError("the model's forward must return logits of shape [N, num_classes]")
    return int(out.shape[1])


def from_checkpoint(path: str, model_class=None, trust: bool = False,
                    arch: Optional[str] = None, num_classes: Optional[int] = None,
                    task: Optional[str] = None) -> ModelSource:
    """A Lightning checkpoint: ours, AutoTimm-style, or any LightningModule via `model_class`."""
    ckpt_path = pathlib.Path(path)
    loaded = load_checkpoint(ckpt_path, trust=trust)
    ckpt = loaded.data
    notes = [f"ignored pickled object of uninstalled class {n} (treated as inert data)" for n in loaded.ignored]
    info: Dict[str, Any] = {"kind": "lightning-checkpoint", "name": ckpt_path.name, "sha256": sha256_file(ckpt_path)}
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict):
        if isinstance(ckpt, dict) and arch and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
            return from_timm(arch, weights=path, num_classes=num_classes, trust=trust, kind="state-dict")
        raise EdgepackError(f"{ckpt_path}: not a Lightning checkpoint (no 'state_dict'); for a plain state dict pass --arch")
    hp = ckpt.get("hyper_parameters") or {}
    if not isinstance(hp, dict):
        hp = dict(vars(hp)) if hasattr(hp, "__dict__") else {}
    state_dict = strip_wrapper_prefixes(ckpt["state_dict"])
    labels = _labels_from(hp)
    multi_label = bool(hp.get("multi_label", False))
    # A SemanticSegmenter checkpoint says so itself; --task segmentation only tells a
    # --model-class module's output apart (a classifier checkpoint is refused by the build).
    segmentation = hp.get("task") == "segmentation" if model_class is None else task == "segmentation"
    if segmentation and model_class is None:
        from .seg_sources import from_segmenter_checkpoint

        return from_segmenter_checkpoint(ckpt_path, hp, state_dict, labels, info, notes, num_classes)

    if model_class is not None:
        cls = import_model_class(model_class) if isinstance(model_class, str) else model_class
        model_class = model_class if isinstance(model_class, str) else f"{cls.__module__}:{cls.__qualname__}"
        try:
            model = cls(**{k: v for k, v in hp.items() if not isinstance(v, IgnoredObject)})
        except TypeError as exc:
            raise EdgepackError(f"--model-class {model_class}: cannot construct from the checkpoint's hyper_parameters ({exc})") from None
        load_weights(model, state_dict, str(ckpt_path))
        model.eval()
        data_config = hp.get("data_config")
        origin = "checkpoint"
        if not isinstance(data_config, dict):
            backbone = getattr(model, "backbone", None)
            if isinstance(backbone, nn.Module) and hasattr(backbone, "pretrained_cfg"):
                data_config, origin = _timm_data_config(backbone), "timm"
            else:
                data_config, origin = plain_data_config({"input_size": (3, 224, 224)}), "default"
                notes.append("no data config in the checkpoint: using 224px ImageNet defaults (override with --image-size/--mean/--std)")
        data_config = plain_data_config(data_config)
        data_config.setdefault("input_size", [3, 224, 224])
        try:
            probe_size = parse_image_size(data_config["input_size"], "input_size")
        except EdgepackError:  # reported with the field's name when the preprocessing is resolved
            probe_size = (224, 224)
        n = _probe_num_classes(model, probe_size, model_class, "segmentation" if segmentation else "classification")
        if num_classes is not None and num_classes != n:
            raise EdgepackError(f"--num-classes {num_classes} disagrees with {ckpt_path}, whose model outputs {n} "
                                "classes; drop --num-classes (a trained classifier cannot be resized)")
        info["loader"] = model_class
        if segmentation:
            from .seg_sources import _divisor

            return ModelSource(model=model, num_classes=n, data_config=data_config, data_config_origin=origin,
                               labels=labels, info=info, notes=notes, task="segmentation",
                               size_divisor=_divisor(model))
        return ModelSource(model=model, num_classes=n, data_config=data_config, data_config_origin=origin,
                           arch=hp.get("backbone") if isinstance(hp.get("backbone"), str) else None,
                           labels=labels, multi_label=multi_label, info=info, notes=notes)

    backbone = _backbone_name(hp.get("backbone") or hp.get("model_name"))
    n = hp.get("num_classes")
    if backbone is None or not isinstance(n, int):
        raise EdgepackError(
            f"{ckpt_path}: hyper_parameters name no timm backbone and num_classes; "
            "pass --model-class pkg.module:Class for other LightningModules"
        )
    if num_classes is not None and num_classes != n:
        raise EdgepackError(f"--num-classes {num_classes} disagrees with {ckpt_path}, whose classifier has {n} "
                            "classes; drop --num-classes (a trained classifier cannot be resized)")
    check_arch(backbone)
    kept = {k: v for k, v in state_dict.items() if k.startswith(("backbone.", "head.fc."))}
    try:
        model = TimmClassifier(backbone, n, **_safe_backbone_kwargs(hp.get("backbone_kwargs"), ckpt_path))
    except EdgepackError:
        raise
    except Exception as exc:  # timm raises many types for bad kwargs
        raise EdgepackError(f"{ckpt_path}: cannot create '{backbone}' from the checkpoint's settings "
                            f"({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})") from None
    load_weights(model, kept, str(ckpt_path))
    model.eval()
    if isinstance(hp.get("data_config"), dict):
        data_config, origin = plain_data_config(hp["data_config"]), "checkpoint"
        info["loader"] = "edgepack.ImageClassifier"
    else:
        data_config, origin = _timm_data_config(model.backbone), "timm"
        image_size = hp.get("image_size")
        if isinstance(image_size, int):
            data_config["input_size"] = [3, image_size, image_size]
        info["loader"] = "timm-backbone checkpoint (AutoTimm-style)"
        if "datamodule_hyper_parameters" in ckpt:
            notes.append("the datamodule's transform settings were not used: preprocessing follows timm's config "
                         "for the backbone (override with --image-size/--interpolation/--crop-pct/--mean/--std)")
    info["arch"] = backbone
    return ModelSource(model=model, num_classes=n, data_config=data_config, data_config_origin=origin,
                       arch=backbone, labels=labels, multi_label=multi_label, info=info, notes=notes)


def load_source(source: str, *, weights: Optional[str] = None, arch: Optional[str] = None,
                num_classes: Optional[int] = None, model_class: Optional[str] = None,
                trust_checkpoint: bool = False, task: Optional[str] = None) -> ModelSource:
    """Resolve a SOURCE string (see DESIGN.md) into a float eval-mode `ModelSource`. `task`
    "segmentation" selects the segmentation loaders where a source could be either (a state
    dict, a LightningModule); smp folders, torchvision:NAME and SemanticSegmenter checkpoints
    are segmentation sources whatever it says (`edgepack.package` refuses a mismatch)."""
    from . import seg_sources

    if source.startswith("torchvision:"):
        result = seg_sources.from_torchvision(source[len("torchvision:"):], weights=weights, num_classes=num_classes,
                                              trust=trust_checkpoint)
    elif arch is not None and arch.startswith("smp:") and not source.startswith("timm:"):
        check_input_file(source, "weights")
        result = seg_sources.from_smp_state_dict(source, arch, trust=trust_checkpoint)
    elif source.startswith("timm:"):
        name = source[len("timm:"):]
        result = from_timm(name, weights=weights, num_classes=num_classes, trust=trust_checkpoint)
    else:
        path = pathlib.Path(source)
        if not path.exists():
            raise EdgepackError(f"{source}: no such file (sources are a .ckpt, a state dict with --arch, or timm:NAME)")
        if path.is_dir():
            if not (path / seg_sources.SMP_CONFIG).exists():
                raise EdgepackError(f"{source}: is a directory, expected a checkpoint or weights file (or a folder "
                                    "written by an smp model's save_pretrained())")
            result = seg_sources.from_smp_folder(source, trust=trust_checkpoint)
        elif path.suffix in STATE_DICT_SUFFIXES:
            if not arch:
                raise EdgepackError(f"{source}: a plain state dict needs --arch NAME (a timm architecture)")
            result = from_timm(arch, weights=source, num_classes=num_classes, trust=trust_checkpoint, kind="state-dict")
        elif path.suffix in CHECKPOINT_SUFFIXES or model_class:
            result = from_checkpoint(source, model_class=model_class, trust=trust_checkpoint, arch=arch,
                                     num_classes=num_classes, task=task)
        else:
            raise EdgepackError(
                f"{source}: unrecognised source type '{path.suffix}' (expected .ckpt, .pt/.pth/.bin/.safetensors with --arch, or timm:NAME)"
            )
    check_finite(result.model, source)
    result.model.eval()
    return result


def default_output_name(source: str, suffix: str = ".ptl") -> str:
    for prefix in ("timm:", "torchvision:"):
        if source.startswith(prefix):
            return source[len(prefix):].replace("/", "_") + suffix
    return pathlib.Path(source).stem + suffix


def export_checkpoint_to_torchscript(checkpoint_path, save_path, model_class=None,
                                     example_input: Optional[torch.Tensor] = None, method: str = "trace",
                                     trust_checkpoint: bool = False) -> torch.jit.ScriptModule:
    """Rebuild the network of a Lightning checkpoint (safely, see `edgepack.checkpoints`) and export it.

    `model_class` may be a LightningModule class or a `"pkg.module:Class"` string; without it the
    checkpoint's hyper-parameters must name a timm backbone (edgepack or AutoTimm checkpoints).
    """
    from .export import export_to_torchscript

    source = from_checkpoint(str(checkpoint_path), model_class=model_class, trust=trust_checkpoint)
    if example_input is None:
        size = parse_image_size(source.data_config.get("input_size", (3, 224, 224)), "the data config: input_size")
        example_input = torch.zeros(1, 3, *size)
    return export_to_torchscript(source.model, save_path, example_input=example_input, method=method)
