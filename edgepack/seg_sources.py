"""Segmentation sources: what `edgepack build ... --task segmentation` can load.

- an smp (segmentation_models_pytorch) model saved with `save_pretrained()`: a folder with
  `config.json` (the constructor's arguments and `_model_class`) and `model.safetensors`;
- an smp state dict with `--arch smp:ARCH:ENCODER` (e.g. `smp:Unet:resnet34`, `smp:FPN:tu-mobilenetv2_050`);
- `torchvision:NAME` (`lraspp_mobilenet_v3_large`, `deeplabv3_*`, `fcn_*`) with `--weights`;
- a Lightning checkpoint of edgepack's `SemanticSegmenter` (the task comes from the checkpoint),
  or of any LightningModule with `--model-class` and `--task segmentation`.

As for classifiers, every network is rebuilt from installed code; files only provide data. No
loader may fetch anything: smp's `encoder_weights` and torchvision's `weights`/`weights_backbone`
are forced to None, and an smp config is read as JSON, its values limited to plain data.
"""
from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List, Optional

import torch
from torch import nn

from .errors import EdgepackError
from .export import _first_line
from .files import check_input_file, sha256_file
from .loading import ModelSource, _read_state_dict_file, check_arch, load_weights, strip_wrapper_prefixes
from .models import plain_data_config
from .segmenter import LIGHT_DECODER, create_segmentation_network, segmentation_data_config, smp_module

DEFAULT_SIZE = 512  # network input side when a source carries no data config
SMP_CONFIG = "config.json"
SMP_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
MAX_CONFIG_BYTES = 1 << 20
INIT_SEED = 0


def smp_architectures() -> List[str]:
    """The model classes smp exports (Unet, FPN, ...): the only `_model_class` values accepted."""
    smp = smp_module()
    from segmentation_models_pytorch.base import SegmentationModel

    return sorted(n for n in dir(smp) if isinstance(getattr(smp, n), type)
                  and issubclass(getattr(smp, n), SegmentationModel))


def _default_data_config(notes: List[str], what: str) -> dict:
    notes.append(f"{what} carries no preprocessing: using {DEFAULT_SIZE}x{DEFAULT_SIZE}, squash resize and ImageNet "
                 "mean/std (override with --image-size/--resize-policy/--mean/--std to match training)")
    return segmentation_data_config(DEFAULT_SIZE)


def _divisor(model: nn.Module) -> int:
    """Input sides must be multiples of this: smp encoders refuse others; edgepack's light decoder
    would run at any size, but only multiples of its coarsest stride (32) keep every level's grid
    aligned with the input, so that the merged levels describe the same pixels."""
    stride = getattr(getattr(model, "encoder", None), "output_stride", None)
    if isinstance(stride, int) and stride > 0 and getattr(model, "requires_divisible_input_shape", True):
        return stride
    return int(getattr(model, "size_divisor", 1) or 1)


def _plain(value) -> bool:
    if isinstance(value, (str, int, float, bool, type(None))):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def check_encoder_name(name, where: str) -> None:
    """An smp encoder name that names code installed here: one of smp's encoders, or `tu-` + a
    timm architecture. timm also resolves "hf-hub:org/repo" (a download) and "local-dir:PATH" (a
    file read) names; a config file must not be able to do either behind edgepack's loader."""
    smp = smp_module()
    if not isinstance(name, str) or ":" in name:
        raise EdgepackError(f"{where}: encoder_name {name!r} is not an installed encoder (smp encoders or tu-<timm "
                            "architecture>; hub and local-dir names are refused)")
    if name.startswith("tu-"):
        check_arch(name[len("tu-"):])
    elif name not in smp.encoders.get_encoder_names():
        raise EdgepackError(f"{where}: encoder_name {name!r} is not an smp encoder (see "
                            "segmentation_models_pytorch.encoders.get_encoder_names(), or tu-<timm architecture>)")


def _smp_kwargs(cls, config: dict, where: str, notes: List[str]) -> Dict[str, Any]:
    """The constructor's arguments from an smp config, made safe: only parameters the class names
    (nothing reaches the encoder through **kwargs, where timm would take e.g. checkpoint_path), an
    installed encoder, no weight downloads, no activation inside the model (the packaged
    pipeline applies its own argmax/softmax)."""
    import inspect

    kwargs = {k: v for k, v in config.items() if not k.startswith("_")}
    bad = [k for k, v in kwargs.items() if not _plain(v)]
    if bad:
        raise EdgepackError(f"{where}: '{bad[0]}' is not plain data")
    params = inspect.signature(cls.__init__).parameters
    named = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
    unknown = sorted(set(kwargs) - named)
    if unknown:
        raise EdgepackError(f"{where}: {unknown[0]!r} is not a parameter of smp.{cls.__name__} (refused: extra "
                            "arguments would reach the encoder's constructor)")
    check_encoder_name(kwargs.get("encoder_name", params["encoder_name"].default
                                  if "encoder_name" in params else None), where)
    if kwargs.get("encoder_weights") is not None:
        notes.append(f"encoder_weights {kwargs['encoder_weights']!r} in the config ignored: the trained weights "
                     "come from the folder, nothing is downloaded")
    kwargs["encoder_weights"] = None
    if kwargs.get("activation") is not None:
        notes.append(f"the model's own activation {kwargs['activation']!r} is left out: the file applies argmax "
                     "(mask) or softmax/sigmoid (--output-kind probabilities) to the logits")
    kwargs["activation"] = None
    return kwargs


def _read_weights(path: pathlib.Path, trust: bool) -> Dict[str, Any]:
    state_dict, _ = _read_state_dict_file(path, trust)
    return strip_wrapper_prefixes(state_dict)


def _build(what: str, make):
    """Construct a model with the hub offline (belt and braces: nothing here may download) and a
    seeded initialisation (the weights are overwritten; untrained sources stay reproducible)."""
    import os

    offline = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(INIT_SEED)
            return make()
    except EdgepackError:
        raise
    except Exception as exc:  # smp/torchvision/timm raise many types for bad arguments
        raise EdgepackError(f"{what}: cannot create the model ({_first_line(exc)})") from None
    finally:
        if offline is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = offline


def from_smp_folder(folder: str, trust: bool = False):
    """A folder written by an smp model's `save_pretrained()`."""
    root = pathlib.Path(folder)
    config_path = root / SMP_CONFIG
    if not config_path.is_file():
        raise EdgepackError(f"{folder}: is a directory without {SMP_CONFIG}; expected a folder written by an smp "
                            "model's save_pretrained() (config.json + model.safetensors)")
    check_input_file(config_path, "smp config")
    if config_path.stat().st_size > MAX_CONFIG_BYTES:
        raise EdgepackError(f"{config_path}: larger than {MAX_CONFIG_BYTES >> 10} KiB; not an smp config")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise EdgepackError(f"{config_path}: not valid JSON ({_first_line(exc)})") from None
    if not isinstance(config, dict):
        raise EdgepackError(f"{config_path}: not a JSON object of constructor arguments")
    name = config.get("_model_class")
    archs = smp_architectures()
    if name not in archs:
        raise EdgepackError(f"{config_path}: _model_class {name!r} is not an smp architecture "
                            f"({', '.join(archs)})")
    weights = next((root / w for w in SMP_WEIGHTS if (root / w).is_file()), None)
    if weights is None:
        raise EdgepackError(f"{folder}: no weights ({' or '.join(SMP_WEIGHTS)}) next to {SMP_CONFIG}")
    notes: List[str] = []
    smp = smp_module()
    kwargs = _smp_kwargs(getattr(smp, name), config, str(config_path), notes)
    model = _build(str(config_path), lambda: getattr(smp, name)(**kwargs))
    load_weights(model, _read_weights(weights, trust), str(weights))
    classes = int(kwargs.get("classes", 1))
    info = {"kind": "smp-folder", "name": root.name, "arch": f"smp:{name}:{kwargs.get('encoder_name')}",
            "sha256": sha256_file(weights), "loader": f"segmentation_models_pytorch.{name}"}
    return ModelSource(model=model.eval(), num_classes=classes,
                       data_config=_default_data_config(notes, "an smp folder"), data_config_origin="default",
                       arch=info["arch"], info=info, notes=notes, task="segmentation", size_divisor=_divisor(model))


def parse_smp_arch(arch: str):
    """`smp:ARCH:ENCODER` -> (ARCH, ENCODER), refused by name when malformed or unknown."""
    parts = arch.split(":")
    if len(parts) != 3 or parts[0] != "smp" or not parts[1] or not parts[2]:
        raise EdgepackError(f"--arch {arch}: an smp state dict needs --arch smp:ARCH:ENCODER, e.g. smp:Unet:resnet34 "
                            "or smp:FPN:tu-mobilenetv2_050")
    archs = smp_architectures()
    if parts[1] not in archs:
        raise EdgepackError(f"--arch {arch}: {parts[1]!r} is not an smp architecture ({', '.join(archs)})")
    return parts[1], parts[2]


def from_smp_state_dict(path: str, arch: str, trust: bool = False):
    """An smp model's `state_dict()` file; the class count comes from the segmentation head."""
    name, encoder = parse_smp_arch(arch)
    check_encoder_name(encoder, f"--arch {arch}")
    state_dict = _read_weights(pathlib.Path(path), trust)
    head = state_dict.get("segmentation_head.0.weight")
    if not isinstance(head, torch.Tensor) or head.dim() != 4:
        raise EdgepackError(f"{path}: no segmentation_head.0.weight: not an smp model's state dict")
    classes = int(head.shape[0])
    smp = smp_module()
    model = _build(f"--arch {arch}", lambda: smp.create_model(name, encoder_name=encoder, encoder_weights=None,
                                                              classes=classes))
    load_weights(model, state_dict, str(path))
    notes: List[str] = []
    info = {"kind": "state-dict", "name": pathlib.Path(path).name, "arch": arch, "sha256": sha256_file(path),
            "loader": f"segmentation_models_pytorch.{name}"}
    return ModelSource(model=model.eval(), num_classes=classes,
                       data_config=_default_data_config(notes, "a state dict"), data_config_origin="default",
                       arch=arch, info=info, notes=notes, task="segmentation", size_divisor=_divisor(model))


def torchvision_names() -> List[str]:
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models.segmentation))


def _torchvision_classes(state_dict: Dict[str, Any]) -> Optional[int]:
    for key in ("classifier.low_classifier.weight", "classifier.4.weight"):
        weight = state_dict.get(key)
        if isinstance(weight, torch.Tensor) and weight.dim() >= 1:
            return int(weight.shape[0])
    return None


def from_torchvision(name: str, weights: Optional[str] = None, num_classes: Optional[int] = None,
                     trust: bool = False):
    """`torchvision:NAME` for a torchvision segmentation model, with `--weights FILE` (its
    state dict; an auxiliary head in it is rebuilt and ignored at inference)."""
    import torchvision

    names = torchvision_names()
    if name not in names:
        raise EdgepackError(f"torchvision:{name}: not a torchvision segmentation model ({', '.join(names)})")
    notes: List[str] = []
    state_dict = None
    info: Dict[str, Any] = {"kind": "torchvision", "arch": f"torchvision:{name}",
                            "loader": "torchvision.models.get_model"}
    if weights is not None:
        state_dict = _read_weights(pathlib.Path(weights), trust)
        found = _torchvision_classes(state_dict)
        if num_classes is not None and found is not None and found != num_classes:
            raise EdgepackError(f"--num-classes {num_classes} disagrees with {weights}, whose classifier has {found} "
                                "classes; drop --num-classes")
        num_classes = found if found is not None else num_classes
        info.update(name=pathlib.Path(weights).name, sha256=sha256_file(weights))
    else:
        info.update(name=f"torchvision:{name}", sha256=None, init_seed=INIT_SEED)
        notes.append(f"no weights given: the network has random weights, initialised from torch.manual_seed({INIT_SEED})")
    num_classes = int(num_classes or 21)  # torchvision's default (Pascal VOC)
    aux = bool(state_dict) and any(k.startswith("aux_classifier.") for k in state_dict)
    kwargs = {"weights": None, "weights_backbone": None, "num_classes": num_classes}
    if not name.startswith("lraspp"):
        kwargs["aux_loss"] = aux
    model = _build(f"torchvision:{name}", lambda: torchvision.models.get_model(name, **kwargs))
    if state_dict is not None:
        load_weights(model, state_dict, str(weights))
    return ModelSource(model=model.eval(), num_classes=num_classes,
                       data_config=_default_data_config(notes, f"torchvision:{name}"), data_config_origin="default",
                       arch=f"torchvision:{name}", info=info, notes=notes, task="segmentation", size_divisor=1)


def from_segmenter_checkpoint(ckpt_path: pathlib.Path, hp: dict, state_dict: Dict[str, Any], labels, info: dict,
                              notes: List[str], num_classes: Optional[int] = None):
    """edgepack's `SemanticSegmenter`: rebuilt from its hyper-parameters (encoder, decoder, classes)."""
    encoder, decoder, n = hp.get("encoder"), hp.get("decoder", LIGHT_DECODER), hp.get("num_classes")
    if not isinstance(encoder, str) or not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise EdgepackError(f"{ckpt_path}: a segmentation checkpoint must name its encoder and num_classes")
    if not isinstance(decoder, str) or (decoder != LIGHT_DECODER and decoder not in smp_architectures()):
        raise EdgepackError(f"{ckpt_path}: unknown decoder {decoder!r} (light or an smp architecture)")
    if num_classes is not None and num_classes != n:
        raise EdgepackError(f"--num-classes {num_classes} disagrees with {ckpt_path}, whose model has {n} classes; "
                            "drop --num-classes")
    check_arch(encoder)
    channels = hp.get("decoder_channels", 64)
    if not isinstance(channels, int) or isinstance(channels, bool) or not 1 <= channels <= 4096:
        raise EdgepackError(f"{ckpt_path}: decoder_channels {channels!r} is not a channel count")
    model = _build(str(ckpt_path), lambda: create_segmentation_network(encoder, decoder, n, channels))
    kept = {k[len("net."):]: v for k, v in state_dict.items() if k.startswith("net.")}
    load_weights(model, kept, str(ckpt_path))
    if isinstance(hp.get("data_config"), dict):
        data_config, origin = plain_data_config(hp["data_config"]), "checkpoint"
    else:
        data_config, origin = _default_data_config(notes, "the checkpoint"), "default"
    arch = f"{encoder}+{decoder}"
    info.update(loader="edgepack.SemanticSegmenter", arch=arch)
    return ModelSource(model=model.eval(), num_classes=n, data_config=data_config, data_config_origin=origin,
                       arch=arch, labels=labels, info=info, notes=notes, task="segmentation",
                       size_divisor=_divisor(model))
