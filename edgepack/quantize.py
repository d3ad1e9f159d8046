"""int8 quantization for the device's engine: dynamic (Linear/LSTM/GRU) and static (FX, calibrated).

Phones run the `qnnpack` engine, x86 boxes `x86` (fbgemm-style, reduce_range). The build sets the
engine of `--target` before quantizing and keeps it set while validating, so the agreement figures
are the device's. Static quantization calibrates on images run through the *bundled*
preprocessing, i.e. exactly what the network will see on the device.

Dynamic quantization only touches Linear layers; on a CNN that is the classifier and little else,
so the report says how much of the network (parameters and an estimate of compute) was covered.
"""
from __future__ import annotations

import io
from typing import Callable, Dict, List, Tuple

import torch
from torch import nn

from .errors import EdgepackError
from .images import read_image
from .preprocess import MAX_SIDE, MIN_SIDE, check_frame_size
from .validate import list_images

DYNAMIC_TYPES = (nn.Linear, nn.LSTM, nn.GRU)
LOW_COVERAGE = 0.5


def mac_profile(model: nn.Module, size) -> Dict[str, int]:
    """Multiply-accumulates per Conv/Linear module for one [1, 3, H, W] forward (an estimate:
    attention matmuls and elementwise ops are not counted)."""
    macs: Dict[str, int] = {}
    hooks = []

    def hook(name):
        def fn(module, inputs, output):
            out = output[0] if isinstance(output, (tuple, list)) else output
            if isinstance(module, nn.Conv2d):
                k = module.kernel_size[0] * module.kernel_size[1] * (module.in_channels // module.groups)
                macs[name] = macs.get(name, 0) + out.numel() * k
            elif isinstance(module, nn.Linear):
                macs[name] = macs.get(name, 0) + out.numel() * module.in_features
        return fn

    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            hooks.append(module.register_forward_hook(hook(name)))
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, *size))
    finally:
        for h in hooks:
            h.remove()
    return macs


def _param_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _serialized_bytes(module: nn.Module) -> int:
    buf = io.BytesIO()
    torch.save(module.state_dict(), buf)
    return buf.tell()


def _coverage(model: nn.Module, covered: List[str], size) -> dict:
    """Share of parameters and conv/linear compute in the `covered` modules."""
    total_params = _param_count(model) or 1
    modules = dict(model.named_modules())
    covered_params = sum(_param_count(modules[n]) for n in covered if n in modules)
    macs = mac_profile(model, size)
    total_macs = sum(macs.values()) or 1
    covered_macs = sum(v for n, v in macs.items() if n in set(covered))
    return {
        "params_fraction": round(covered_params / total_params, 4),
        "compute_fraction": round(covered_macs / total_macs, 4),
        "compute_estimate": "conv+linear multiply-accumulates",
    }


def _pct(fraction: float) -> str:
    return f"{fraction:.1%}" if fraction >= 0.001 else "<0.1%"


def quantize_dynamic(model: nn.Module, size, report: Callable[[str], None]) -> Tuple[nn.Module, dict]:
    # inplace=False (the default) already works on a deepcopy; copying here too cost a second one.
    qmodel = torch.ao.quantization.quantize_dynamic(model.eval(), set(DYNAMIC_TYPES), dtype=torch.qint8, inplace=False)
    # What quantize_dynamic really replaced (it matches exact types, not Linear subclasses).
    covered = [n for n, m in qmodel.named_modules() if type(m).__module__.startswith("torch.ao.nn.quantized.dynamic")]
    info = {"mode": "dynamic", "types": ["Linear", "LSTM", "GRU"], "quantized_modules": len(covered)}
    info.update(_coverage(model, covered, size))
    if info["compute_fraction"] < LOW_COVERAGE:
        warning = (f"dynamic quantization covers only {_pct(info['compute_fraction'])} of this network's compute "
                   f"({_pct(info['params_fraction'])} of its parameters): it quantizes Linear layers, and this is a "
                   "convolutional network. Expect little gain; use --quantize=static --calib DIR instead.")
        info["warning"] = warning
        report(f"  warning: {warning}")
    return qmodel, info


def _static_qconfig_mapping(engine: str):
    from torch.ao.quantization import QConfig, get_default_qconfig_mapping
    from torch.ao.quantization.observer import HistogramObserver, per_channel_weight_observer_range_neg_127_to_127

    mapping = get_default_qconfig_mapping(engine)
    if engine == "qnnpack":
        # QNNPACK runs per-channel int8 weights (symmetric, -127..127, as XNNPACK's kernels need);
        # per-channel keeps depthwise convolutions accurate where per-tensor loses them.
        mapping.set_global(QConfig(activation=HistogramObserver.with_args(reduce_range=False),
                                   weight=per_channel_weight_observer_range_neg_127_to_127))
    return mapping


def calibration_batches(directory, count: int, preprocess: nn.Module, max_pixels: int) -> List[torch.Tensor]:
    import pathlib

    root = pathlib.Path(directory)
    if (root / "images").is_dir() and (root / "masks").is_dir():
        directory = root / "images"  # a segmentation set: its masks are not calibration images
    items = list_images(directory, limit=count)
    batches = []
    with torch.no_grad():
        for path, _ in items:
            image = read_image(path, max_pixels, MIN_SIDE, MAX_SIDE)
            check_frame_size(path, image)
            batches.append(preprocess(image).contiguous())
    return batches


class ContiguousHardtanh(nn.Module):
    """`ReLU6`/`Hardtanh` whose input is made contiguous first: torch's quantized clamp kernel
    (what FX maps ReLU6, Hardtanh and clamp to) reads a channels-last quantized tensor, which
    is what a quantized convolution outputs, in the wrong order (torch 2.12; relu, hardswish and
    hardsigmoid are unaffected). The float function is the same; `tests/test_quantize.py` keeps
    the kernel bug itself under watch."""

    def __init__(self, min_val: float, max_val: float):
        super().__init__()
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.hardtanh(x.contiguous(), self.min_val, self.max_val)


def _plain_batchnorm(module: nn.Module) -> nn.Module:
    """timm's BatchNormAct2d (BatchNorm2d + drop + activation in one module) as BatchNorm2d,
    drop, activation: FX traces into the fused module, so the convolution before it is not
    folded with the BatchNorm and its output is quantized before the per-channel scaling, which
    costs channels with small pre-norm values most of their resolution."""
    bn = nn.BatchNorm2d(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
    bn.load_state_dict({k: v for k, v in module.state_dict().items() if k in bn.state_dict()})
    return nn.Sequential(bn.eval(), module.drop, module.act)


def quantization_friendly(model: nn.Module) -> Tuple[nn.Module, dict]:
    """(model, counts): a copy of `model` in which every ReLU6/Hardtanh module is a
    `ContiguousHardtanh` and every timm BatchNormAct2d a plain BatchNorm2d + activation, or
    `model` itself when it has neither. The float function is unchanged. mobilenetv2 and the
    efficientnet family use both throughout: without this their static int8 output is noise."""
    try:
        from timm.layers import BatchNormAct2d
    except ImportError:  # pragma: no cover - timm is a dependency
        BatchNormAct2d = ()
    found = {"contiguous_clamps": [n for n, m in model.named_modules() if type(m) in (nn.ReLU6, nn.Hardtanh)],
             "unfused_batchnorms": [n for n, m in model.named_modules()
                                    if type(m) is BatchNormAct2d and type(m.drop) is nn.Identity]}
    if not any(found.values()):
        return model, {}
    import copy

    model = copy.deepcopy(model)
    for kind in ("unfused_batchnorms", "contiguous_clamps"):  # clamps inside the replaced BN modules too
        names = [n for n, m in model.named_modules()
                 if (type(m) is BatchNormAct2d and type(m.drop) is nn.Identity if kind == "unfused_batchnorms"
                     else type(m) in (nn.ReLU6, nn.Hardtanh))]
        for name in names:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            old = getattr(parent, child)
            new = _plain_batchnorm(old) if kind == "unfused_batchnorms" else ContiguousHardtanh(old.min_val, old.max_val)
            setattr(parent, child, new)
    return model.eval(), {k: len(v) for k, v in found.items() if v}


def quantize_static(model: nn.Module, engine: str, batches: List[torch.Tensor], size,
                    report: Callable[[str], None]) -> Tuple[nn.Module, dict]:
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    example = (torch.zeros(1, 3, *size),)
    original = model
    model, rewritten = quantization_friendly(model)
    try:
        # No deepcopy: torch.fx traces into a new GraphModule, fuses conv+bn into copies and swaps
        # modules only there, so `model` keeps its weights and outputs (tests/test_quantize.py
        # checks); a copy would be one more model-sized allocation at the build's memory peak.
        prepared = prepare_fx(model.eval(), _static_qconfig_mapping(engine), example)
    except Exception as exc:  # FX symbolic tracing fails on data-dependent control flow
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise EdgepackError(f"static quantization cannot trace this network with torch.fx ({reason}); "
                            "use --quantize=dynamic or no quantization") from None
    with torch.no_grad():
        for batch in batches:
            prepared(batch)
    converted = convert_fx(prepared).eval()
    try:
        with torch.no_grad():
            converted(batches[0] if batches else example[0])
    except RuntimeError as exc:  # QNNPACK refuses e.g. adds whose input/output scale ratio is out of range
        text = str(exc)
        detail = next((line.strip() for line in text.splitlines() if "QNNPACK" in line or "qnnp" in line),
                      text.strip().splitlines()[0] if text.strip() else type(exc).__name__)
        raise EdgepackError(f"the static int8 model does not run on the {engine} engine ({detail[:200]}); "
                            "this happens when calibrated activation scales fall outside the engine's range "
                            "(often with untrained weights): try more representative --calib images, "
                            "--quantize dynamic, or --target x86") from None
    quantized_types = (torch.ao.nn.quantized.Conv2d, torch.ao.nn.quantized.Linear,
                       torch.ao.nn.intrinsic.quantized.ConvReLU2d, torch.ao.nn.intrinsic.quantized.LinearReLU)
    converted_modules = dict(converted.named_modules())
    model = original
    float_layers = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    covered = [n for n in float_layers if isinstance(converted_modules.get(n), quantized_types)]
    left_float = [n for n in float_layers if n not in covered]
    info = {"mode": "static", "method": "fx", "calibration_images": len(batches),
            "weights": "per-channel int8" if engine == "qnnpack" else "per-channel int8 (reduce_range)",
            "quantized_modules": len(covered), "float_modules": left_float[:50],
            "float_module_count": len(left_float)}
    info.update(rewritten)
    info.update(_coverage(model, covered, size))
    if left_float:
        report(f"  note: {len(left_float)} conv/linear layers stay float: {', '.join(left_float[:5])}"
               + (" ..." if len(left_float) > 5 else ""))
    return converted, info


def quantize_network(model: nn.Module, opts, preprocess: nn.Module, size, report) -> Tuple[nn.Module, dict]:
    """Quantize `model` per `opts.quantize` with the engine already set for `opts.target`."""
    engine = torch.backends.quantized.engine
    float_bytes = _serialized_bytes(model)
    if opts.quantize == "dynamic":
        qmodel, info = quantize_dynamic(model, size, report)
    else:
        batches = calibration_batches(opts.calib, opts.calib_count, preprocess, opts.max_pixels)
        qmodel, info = quantize_static(model, engine, batches, size, report)
    info.update(engine=engine, target=opts.target, float_weights_bytes=float_bytes,
                quantized_weights_bytes=_serialized_bytes(qmodel))
    return qmodel, info
