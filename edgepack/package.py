"""`edgepack build`: source -> validated `.ptl`, as a library function.

Pipeline (DESIGN.md): load -> wrap (preprocess, network, activation) -> [quantize] -> trace or
script -> optimise -> save to a temporary file -> reload with the lite interpreter -> validate
against the float model -> write the final file (manifest with the figures) -> rename into place.
Nothing appears at the output path unless validation passed (or the user accepted a mismatch).
"""
from __future__ import annotations

import ctypes
import dataclasses
import gc
import glob
import math
import os
import pathlib
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, List, Optional, Sequence

import torch

from . import manifest as mf
from .compat import (MIN_BACKPORT_VERSION, backport_in_place, bytecode_version, max_bytecode_for_runtime,
                     operator_problems)
from .errors import EdgepackError, ValidationError
from .export import _first_line, script_or_trace
from .files import check_input_file, check_output_target, sha256_file
from .images import DEFAULT_MAX_PIXELS, read_image
from .optimize import OPTIMIZE_MODES, variants, xnnpack_available
from .pipeline import (EmbeddingNetwork, ImagePipeline, SegmentationNetwork, SegmentationPipeline, TensorPipeline,
                       timm_network)
from .runtimes import OPERATOR_LIST_RUNTIMES, runtime_operators
from .preprocess import MAX_SIDE, MIN_SIDE, ImagePreprocess, PreprocessConfig, check_frame_size, resolve_config
from .segmenter import RESIZE_POLICIES, crop_mode_for, policy_for
from .sources import ModelSource, default_output_name, load_source
from .seg_validate import (SEGMENTATION_MIN_PIXEL_AGREEMENT, MaskComparison, MaskSpec, check_binary_truths,
                           check_mask_classes, compare_masks, ground_truth_miou, read_mask, segmentation_items)
from .validate import (Comparison, _round, accuracy, compare, list_images, load_lite, retrieval_agreement, run_all,
                       synthetic_images)

INPUT_KINDS = ("rgb", "rgba", "float")
OUTPUT_KINDS = ("probabilities", "logits", "mask")
TARGETS = {"mobile": "qnnpack", "x86": "x86"}
BUILD_TASKS = ("classification", "embedding", "segmentation")
# Embedding builds: minimum cosine similarity between the file's and the float model's vector, per
# input, unless --min-cosine says otherwise. int8 moves a vector by a few degrees, float by ~nothing.
EMBEDDING_MIN_COSINE = {"float": 0.9999, "int8": 0.99}
# Segmentation builds: minimum share of mask pixels equal to the float model's, and largest mIoU
# loss against ground-truth masks (when --val has them), unless the options say otherwise.
SEGMENTATION_MAX_MIOU_DROP = {"float": 0.005, "int8": 0.02}
MAX_MASK_CLASSES = 255  # the mask is uint8, and 255 marks unlabelled pixels in ground-truth masks
DEFAULT_RTOL = 1e-3


@dataclass
class BuildOptions:
    """Every knob of `edgepack build`; the CLI fills this in and calls `build`."""

    output: Optional[str] = None
    force: bool = False
    # source
    weights: Optional[str] = None
    arch: Optional[str] = None
    num_classes: Optional[int] = None
    model_class: Optional[str] = None
    trust_checkpoint: bool = False
    labels_file: Optional[str] = None
    # graph
    method: str = "trace"
    input: str = "rgb"
    output_kind: Optional[str] = None  # None: "probabilities" (classifiers), "mask" (segmentation)
    image_size: Optional[Sequence[int]] = None
    interpolation: Optional[str] = None
    crop_pct: Optional[float] = None
    crop_mode: Optional[str] = None
    mean: Optional[Sequence[float]] = None
    std: Optional[Sequence[float]] = None
    channels_last: Optional[bool] = None  # None: on when the XNNPACK path runs
    # quantization
    quantize: Optional[str] = None  # None, "dynamic" or "static"
    calib: Optional[str] = None
    calib_count: int = 64
    target: str = "mobile"
    # optimisation, format
    optimize: str = "auto"
    bytecode_version: Optional[int] = None
    runtime: Optional[str] = None  # lite runtime release the file must run on, e.g. "2.1"
    # validation
    val: Optional[str] = None
    val_count: int = 64
    rtol: float = 1e-3
    min_agreement: float = 0.98
    min_cosine: Optional[float] = None  # embedding builds; None: EMBEDDING_MIN_COSINE for float/int8
    accept_mismatch: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    # output format: "ptl" or "pte"; None = from the output's suffix, else ptl
    format: Optional[str] = None
    max_side: Optional[int] = None  # .pte: largest frame side the file accepts (default 1920)
    # what the file outputs: "classification" (probabilities/logits) or "embedding" (pooled
    # features, L2-normalised)
    task: str = "classification"
    # segmentation: how the frame becomes the network input ("squash" or "letterbox"; None: the
    # source's data config) and the validation gates (None: SEGMENTATION_* defaults)
    resize_policy: Optional[str] = None
    min_pixel_agreement: Optional[float] = None
    max_miou_drop: Optional[float] = None

    def pixel_agreement_gate(self) -> float:
        if self.min_pixel_agreement is not None:
            return float(self.min_pixel_agreement)
        return SEGMENTATION_MIN_PIXEL_AGREEMENT["int8" if self.quantize else "float"]

    def miou_gate(self) -> float:
        if self.max_miou_drop is not None:
            return float(self.max_miou_drop)
        return SEGMENTATION_MAX_MIOU_DROP["int8" if self.quantize else "float"]

    def cosine_gate(self) -> float:
        """The minimum per-input cosine an embedding build must reach."""
        if self.min_cosine is not None:
            return float(self.min_cosine)
        return EMBEDDING_MIN_COSINE["int8" if self.quantize else "float"]

    def recorded(self) -> dict:
        """Options that shape the artifact, for the manifest (no paths: they leak user names)."""
        keep = ("method", "input", "output_kind", "quantize", "target", "optimize", "bytecode_version", "runtime", "rtol",
                "min_agreement", "calib_count", "val_count", "channels_last", "num_classes", "arch", "format", "max_side")
        out = {k: getattr(self, k) for k in keep}
        out["output_kind"] = self.output_kind or "probabilities"
        # "rgba" is an alias of "rgb": both bundle the same preprocessing, which takes [H, W, 3] and
        # [H, W, 4] frames alike, so both must give the same bytes.
        out["input"] = "rgb" if self.input == "rgba" else self.input
        out["calib"] = bool(self.calib)
        out["val"] = bool(self.val)
        out["labels_file"] = bool(self.labels_file)
        if self.task == "embedding":  # classifier manifests keep their bytes
            # the classifier's output kind and --rtol do not apply (and are refused when set)
            out.update(task=self.task, min_cosine=self.cosine_gate(), output_kind=None, rtol=None)
        elif self.task == "segmentation":
            out.update(task=self.task, output_kind=self.output_kind or "mask", rtol=None,
                       resize_policy=self.resize_policy, min_pixel_agreement=self.pixel_agreement_gate(),
                       max_miou_drop=self.miou_gate())
        return out


@dataclass
class BuildResult:
    output: str
    size_bytes: int
    sha256: str
    bytecode_version: int
    manifest: dict
    timings: Dict[str, float] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    accepted_mismatch: bool = False

    def to_json(self) -> dict:
        return {
            "output": self.output,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "bytecode_version": self.bytecode_version,
            "optimizer": self.manifest.get("optimizer"),
            "quantization": self.manifest.get("quantization"),
            "validation": self.manifest.get("validation"),
            "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
            "notes": self.notes,
            "manifest": self.manifest,
        }


Reporter = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class _Stages:
    """Times each stage and reports it as it finishes."""

    def __init__(self, report: Reporter):
        self.report = report
        self.timings: Dict[str, float] = {}

    def run(self, name: str, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
        self.report(f"  {name:<10} {self.timings[name]:7.2f}s")
        return result


def read_labels(path, num_classes: int) -> List[str]:
    check_input_file(path, "labels")
    try:
        lines = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EdgepackError(f"{path}: cannot read labels ({exc})") from None
    labels = [line.strip() for line in lines if line.strip()]
    if len(labels) != num_classes:
        raise EdgepackError(f"{path}: {len(labels)} labels for a model with {num_classes} classes")
    return labels


DATA_CONFIG_ORIGINS = {"checkpoint": "the checkpoint's data config", "timm": "timm's data config for the architecture",
                       "default": "the default data config"}


def resolve_preprocess(source: ModelSource, opts: BuildOptions) -> PreprocessConfig:
    """The source's data config with the CLI overrides applied; bad values are refused by name."""
    where = DATA_CONFIG_ORIGINS.get(source.data_config_origin, "the data config")
    return resolve_config(source.data_config, where, image_size=opts.image_size, interpolation=opts.interpolation,
                          crop_pct=opts.crop_pct, crop_mode=opts.crop_mode, mean=opts.mean, std=opts.std)


def _check_options(opts: BuildOptions) -> None:
    if opts.input not in INPUT_KINDS:
        raise EdgepackError(f"--input must be one of {', '.join(INPUT_KINDS)}")
    if opts.output_kind is not None and opts.output_kind not in OUTPUT_KINDS:
        raise EdgepackError(f"--output-kind must be one of {', '.join(OUTPUT_KINDS)}")
    if opts.optimize not in OPTIMIZE_MODES:
        raise EdgepackError(f"--optimize must be one of {', '.join(OPTIMIZE_MODES)}")
    if opts.optimize == "xnnpack" and not xnnpack_available():
        raise EdgepackError("--optimize xnnpack: this torch build has no XNNPACK (torch >= 2.13 x86 wheels); use auto or portable")
    if opts.quantize not in (None, "dynamic", "static"):
        raise EdgepackError("--quantize must be dynamic or static")
    if opts.quantize == "static" and not opts.calib:
        raise EdgepackError("--quantize=static needs calibration images: pass --calib DIR (a folder of typical images)")
    if opts.target not in TARGETS:
        raise EdgepackError(f"--target must be one of {', '.join(TARGETS)}")
    if opts.quantize and TARGETS[opts.target] not in torch.backends.quantized.supported_engines:
        raise EdgepackError(f"this torch build has no {TARGETS[opts.target]} engine, which --target {opts.target} "
                            "quantization needs")
    if not 0 <= opts.min_agreement <= 1:
        raise EdgepackError("--min-agreement must be in [0, 1]")
    _check_task_options(opts)
    # Everything a typo can break is checked here, before any model is loaded: a NaN tolerance
    # or normalisation would otherwise surface as "validation failed" after every retry.
    if isinstance(opts.rtol, bool) or not isinstance(opts.rtol, (int, float)) or not 0 <= opts.rtol <= 1:
        raise EdgepackError(f"--rtol must be a number in [0, 1] (relative to the largest output), got {opts.rtol}")
    if opts.output is not None and not str(opts.output).strip():
        raise EdgepackError("-o/--output: empty file name; give a file name ending in .ptl, or leave -o out "
                            "for SOURCE's name + .ptl")
    if opts.bytecode_version is not None:
        if not MIN_BACKPORT_VERSION <= opts.bytecode_version:
            raise EdgepackError(f"--bytecode-version {opts.bytecode_version}: torch can backport down to "
                                f"{MIN_BACKPORT_VERSION} only")
    if opts.runtime is not None:
        limit = max_bytecode_for_runtime(opts.runtime)
        if opts.bytecode_version is not None and opts.bytecode_version > limit:
            raise EdgepackError(f"--bytecode-version {opts.bytecode_version} conflicts with --runtime {opts.runtime}, "
                                f"which reads bytecode versions up to {limit}; drop one of them")
        if runtime_operators(opts.runtime) is None:
            raise EdgepackError(f"--runtime {opts.runtime}: edgepack has no operator list for that runtime, so it "
                                f"cannot check the file would run there (lists: {', '.join(OPERATOR_LIST_RUNTIMES)})")
    resolve_config({}, image_size=opts.image_size, interpolation=opts.interpolation, crop_pct=opts.crop_pct,
                   crop_mode=opts.crop_mode, mean=opts.mean, std=opts.std)  # the overrides alone
    for path, what in ((opts.labels_file, "labels"), (opts.weights, "weights")):
        if path is not None:
            check_input_file(path, what)


def _check_task_options(opts: BuildOptions) -> None:
    """--task, and the options that only make sense for one task (refused with the reason)."""
    if opts.task not in BUILD_TASKS:
        raise EdgepackError(f"--task must be one of {', '.join(BUILD_TASKS)}")
    if opts.min_cosine is not None and (isinstance(opts.min_cosine, bool) or not isinstance(opts.min_cosine, (int, float))
                                        or not 0 <= opts.min_cosine <= 1):
        raise EdgepackError(f"--min-cosine must be a number in [0, 1], got {opts.min_cosine}")
    for value, name in ((opts.min_pixel_agreement, "--min-pixel-agreement"), (opts.max_miou_drop, "--max-miou-drop")):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1):
            raise EdgepackError(f"{name} must be a number in [0, 1], got {value}")
    if opts.resize_policy is not None and opts.resize_policy not in RESIZE_POLICIES:
        raise EdgepackError(f"--resize-policy must be one of {', '.join(RESIZE_POLICIES)}")
    if opts.task == "segmentation":
        _check_segmentation_options(opts)
        return
    # Segmentation-only options with the default task stay allowed until the source is loaded: a
    # segmentation checkpoint sets the task itself (prepare refuses them for a classifier).
    if opts.task == "embedding" and _segmentation_only(opts):
        raise EdgepackError(f"{_segmentation_only(opts)[0]} applies to segmentation builds, not --task embedding")
    if opts.task == "classification":
        if opts.min_cosine is not None:
            raise EdgepackError("--min-cosine gates embedding builds (--task embedding); classifier builds are gated "
                                "by --rtol (float) and --min-agreement (int8)")
        return
    if opts.output_kind not in (None, "probabilities"):
        raise EdgepackError(f"--output-kind {opts.output_kind} does not apply to --task embedding: the file outputs "
                            "the L2-normalised feature vector, not class scores")
    if opts.labels_file is not None:
        raise EdgepackError("--labels names classes; a --task embedding file has none (it outputs a feature vector)")
    if opts.num_classes is not None:
        raise EdgepackError("--num-classes sizes the classifier, which --task embedding leaves out (the vector's "
                            "size is the network's feature size)")
    if opts.rtol != DEFAULT_RTOL:
        raise EdgepackError("--rtol gates classifier outputs; --task embedding builds are gated by --min-cosine "
                            "(and --min-agreement for nearest-neighbour agreement)")


def _segmentation_only(opts: BuildOptions) -> List[str]:
    named = ((opts.resize_policy, "--resize-policy"), (opts.min_pixel_agreement, "--min-pixel-agreement"),
             (opts.max_miou_drop, "--max-miou-drop"), (opts.output_kind == "mask" or None, "--output-kind mask"))
    return [name for value, name in named if value is not None]


def _check_segmentation_options(opts: BuildOptions) -> None:
    """Options that do not apply to a segmentation build, refused with the reason."""
    if opts.output_kind not in (None, "mask", "probabilities"):
        raise EdgepackError(f"--output-kind {opts.output_kind}: a segmentation file outputs the mask (default) or "
                            "the per-class probabilities (--output-kind probabilities)")
    if opts.input == "float":
        raise EdgepackError("--input float: a segmentation file maps its mask onto the frame, which needs the bundled "
                            "preprocessing; use --input rgb")
    if opts.min_cosine is not None:
        raise EdgepackError("--min-cosine gates embedding builds; segmentation builds are gated by "
                            "--min-pixel-agreement and --max-miou-drop")
    if opts.rtol != DEFAULT_RTOL:
        raise EdgepackError("--rtol gates classifier outputs; segmentation builds are gated by --min-pixel-agreement "
                            "and --max-miou-drop")
    if opts.crop_pct is not None or opts.crop_mode is not None:
        raise EdgepackError("--crop-pct/--crop-mode: a segmenter sees the whole frame; choose how it is resized with "
                            "--resize-policy squash|letterbox")


def _output_path(source: str, opts: BuildOptions, suffix: str = ".ptl") -> pathlib.Path:
    out = pathlib.Path(opts.output or default_output_name(source, suffix))
    if out.is_dir():
        raise EdgepackError(f"{out}: is a directory; give a file name ending in {suffix}")
    check_output_target(out)
    if _name_taken(out) and not opts.force:
        raise EdgepackError(f"{out}: already exists; pass --force to replace it")
    parent = out.parent if str(out.parent) else pathlib.Path(".")
    if not parent.is_dir():
        raise EdgepackError(f"{parent}: output folder does not exist")
    if not os.access(parent, os.W_OK):
        raise EdgepackError(f"{parent}: output folder is not writable")
    return out


def _name_taken(out: pathlib.Path) -> bool:
    """Whether `out` names anything, a dangling symlink included."""
    try:
        os.lstat(out)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


def _tmp_path(out: pathlib.Path, tag: str) -> pathlib.Path:
    return out.with_name(f".{out.name}.{os.getpid()}.{tag}.tmp")


def clean_stale_temporaries(out: pathlib.Path) -> List[pathlib.Path]:
    """Remove temp files of earlier builds of `out` whose process is gone (killed builds)."""
    removed = []
    prefix = f".{out.name}."
    for tmp in out.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        try:  # .{name}.{pid}.{tag}[.more].tmp
            pid = int(tmp.name[len(prefix):].split(".")[0])
        except ValueError:
            continue
        if pid != os.getpid() and _pid_alive(pid):
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _save(module: torch.jit.ScriptModule, path: pathlib.Path, manifest: dict) -> None:
    """Write a lite-interpreter candidate file with the manifest as extra file.

    Written straight to disk: serialising to memory first held about three copies of the file
    at once (the growing buffer, its string and the bytes object). The archive's inner folder is
    named after this temporary file; `manifest.write_archive` renames it for the final file.
    torch's file writer aborts the process if the disk fills up under it, so the build checks
    free space before it gets here (`_check_free_space`).
    """
    module._save_for_lite_interpreter(str(path), _extra_files={mf.MANIFEST_NAME: mf.dumps(manifest)})


def _write_final(candidate: pathlib.Path, path: pathlib.Path, manifest: dict) -> None:
    try:
        mf.write_archive(candidate, path, manifest)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise EdgepackError(f"{path.parent}: cannot write the output file ({exc.strerror or exc})") from None


def _tensor_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values() if isinstance(t, torch.Tensor))


def _check_free_space(folder: pathlib.Path, weight_bytes: int) -> None:
    """Refuse early, with a clear message, when the output folder cannot hold the build's files
    side by side: the stashed pipeline, the candidate and the final file, each about the size of
    the float weights (or less with int8)."""
    need = 3 * weight_bytes + (32 << 20)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < need:
        raise EdgepackError(f"{folder}: not enough free disk space for the build "
                            f"(about {need / 1e6:.0f} MB needed, {free / 1e6:.0f} MB free)")


def _release_freed_memory() -> None:
    """Collect cycles and hand freed heap pages back to the OS (glibc keeps them otherwise), so the
    lite interpreter's copy of the model does not come on top of the optimised module's."""
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


@dataclass
class ValidationSet:
    inputs: List[torch.Tensor]
    targets: List[Optional[int]]  # class index for --val images in class folders, else None
    user: List[bool]  # True for the user's --val images
    described: str
    truths: List[Optional[torch.Tensor]] = field(default_factory=list)  # segmentation: ground-truth masks
    mask_spec: Optional[MaskSpec] = None  # segmentation: the outputs are judged as masks


def _validation_inputs(opts: BuildOptions, image_input: bool, preprocess: Optional[ImagePreprocess],
                       size, labels: Optional[List[str]], num_classes: int) -> ValidationSet:
    """Seeded synthetic frames plus the user's --val images, in the form the artifact takes."""
    images = synthetic_images()
    targets: List[Optional[int]] = [None] * len(images)
    user = [False] * len(images)
    described = f"{len(images)} synthetic frames"
    if opts.val:
        items = list_images(opts.val, limit=opts.val_count)
        classes = sorted({c for _, c in items if c is not None})
        # Folder names are matched to the model's labels when it has them, else (like
        # torchvision's ImageFolder) their sorted order is the class index.
        if labels and all(c in labels for c in classes):
            classes = list(labels)
        elif len(classes) != num_classes:
            classes = []  # folders cannot be mapped to class indices: report no accuracy
        for path, _ in items:
            images.append(read_image(path, opts.max_pixels, MIN_SIDE, MAX_SIDE))
            check_frame_size(path, images[-1])
        targets += [classes.index(c) if c in classes else None for _, c in items]
        user += [True] * len(items)
        described += f" + {len(items)} images from --val"
    if image_input:
        return ValidationSet(images, targets, user, described)
    with torch.no_grad():
        tensors = [preprocess(img) for img in images]
    gen = torch.Generator().manual_seed(1)
    tensors += [torch.randn(1, 3, *size, generator=gen) for _ in range(2)]
    return ValidationSet(tensors, targets + [None, None], user + [False, False],
                         described + " (preprocessed) + 2 random tensors")


@dataclass
class Prepared:
    """What every format's build starts from: the loaded source and the artifact's contract."""

    out: pathlib.Path
    src: ModelSource
    labels: Optional[List[str]]
    task: str
    activation: str
    pre_cfg: PreprocessConfig
    image_input: bool
    stages: "_Stages"
    notes: List[str]
    dim: Optional[int] = None  # embedding builds: the vector's size
    opts: Optional[BuildOptions] = None  # the options with the task resolved (a checkpoint may set it)
    mask: Optional[MaskSpec] = None  # segmentation builds: how to read the output as a mask
    net_output: Optional[List[int]] = None  # segmentation builds: the network's logits shape [K, h, w]

    @property
    def embedding(self) -> bool:
        return self.task == "embedding"

    @property
    def segmentation(self) -> bool:
        return self.task == "segmentation"

    @property
    def letterbox(self) -> bool:
        return self.segmentation and self.pre_cfg.crop_mode == crop_mode_for("letterbox")

    @property
    def num_outputs(self) -> int:
        """Class count, or 0 for an embedding (no class folders map to it)."""
        return 0 if self.embedding else self.src.num_classes

    def output_spec(self) -> dict:
        if self.segmentation:
            return self._segmentation_output_spec()
        if self.embedding:
            return {"kind": "embedding", "activation": "l2norm", "dtype": "float32",
                    "shape": [self.dim] if self.image_input else [1, self.dim], "dim": self.dim,
                    "normalization": "L2 over the last dimension, eps 1e-12 (torch.nn.functional.normalize)",
                    "features": "timm forward_features + forward_head(pre_logits=True)"}
        n = self.src.num_classes
        return {"kind": "logits" if self.activation == "none" else "probabilities",
                "activation": self.activation, "dtype": "float32",
                "shape": [n] if self.image_input else [1, n], "num_classes": n}

    def _segmentation_output_spec(self) -> dict:
        k, channels = self.mask.num_classes, self.net_output[0]
        policy = policy_for(self.pre_cfg.crop_mode)
        if self.mask.output == "mask":
            rule = "logit > 0 (probability > 0.5)" if self.mask.binary else "argmax over classes"
            return {"kind": "mask", "dtype": "uint8", "shape": ["H", "W"], "resolution": "frame", "num_classes": k,
                    "values": "class index into labels", "network_channels": channels,
                    "upsampling": f"logits resized bilinearly (align_corners=False) to the frame, then {rule}",
                    "frame_mapping": "mask pixel (y, x) is frame pixel (y, x)"
                                     + ("; the letterbox padding is cut off before upsampling"
                                        if policy == "letterbox" else "")}
        h, w = self.net_output[1], self.net_output[2]
        net_h, net_w = self.pre_cfg.input_size
        mapping = ("the map covers the whole frame, stretched (squash)" if policy == "squash" else
                   f"letterbox: ratio = max(H/{net_h}, W/{net_w}); the frame fills (rh, rw) = (round(H/ratio), "
                   f"round(W/ratio)) (halves to even) of the {net_h}x{net_w} network input from "
                   f"(({net_h} - rh) // 2, ({net_w} - rw) // 2); "
                   f"map coordinates scale by {h}/{net_h} vertically and {w}/{net_w} horizontally")
        return {"kind": "probabilities", "activation": "sigmoid" if self.mask.binary else "softmax",
                "dtype": "float32", "shape": [channels, h, w], "resolution": "network", "num_classes": k,
                "frame_mapping": mapping}


def preprocess_manifest(prep: Prepared, section: dict) -> dict:
    """The manifest's "preprocess" section (a segmenter's also names its resize policy)."""
    section = dict(section, source=prep.src.data_config_origin, bundled=prep.image_input)
    if prep.segmentation:
        section.update(resize_policy=policy_for(prep.pre_cfg.crop_mode), size_divisor=prep.src.size_divisor)
    return section


def make_pipeline(prep: Prepared, preprocess: torch.nn.Module, network: torch.nn.Module,
                  channels_last: bool) -> torch.nn.Module:
    """The module a format exports: bundled preprocessing -> network -> the task's output step."""
    if prep.segmentation:
        return SegmentationPipeline(preprocess, network, prep.mask.output, prep.mask.binary, prep.letterbox)
    if prep.image_input:
        return ImagePipeline(preprocess, network, prep.activation)
    return TensorPipeline(network, prep.activation, channels_last=channels_last)


def validation_inputs(prep: Prepared, opts: BuildOptions, preprocess, size) -> ValidationSet:
    if prep.segmentation:
        return _segmentation_inputs(opts, prep.mask)
    return _validation_inputs(opts, prep.image_input, preprocess, size, prep.labels, prep.num_outputs)


def _segmentation_inputs(opts: BuildOptions, spec: MaskSpec) -> ValidationSet:
    """Seeded synthetic frames plus the --val images, with their ground-truth masks when the
    folder has `images/` + `masks/`."""
    images = synthetic_images()
    truths: List[Optional[torch.Tensor]] = [None] * len(images)
    user = [False] * len(images)
    described = f"{len(images)} synthetic frames"
    if opts.val:
        items = segmentation_items(opts.val, limit=opts.val_count)
        for path, mask_path in items:
            images.append(read_image(path, opts.max_pixels, MIN_SIDE, MAX_SIDE))
            check_frame_size(path, images[-1])
            truth = None
            if mask_path is not None:
                truth = read_mask(mask_path, images[-1].shape[:2])
                check_mask_classes(truth, spec.num_classes, mask_path)
            truths.append(truth)
        user += [True] * len(items)
        check_binary_truths(truths, spec.num_classes, opts.val)
        with_truth = sum(t is not None for t in truths)
        described += f" + {len(items)} images from --val" + (f" ({with_truth} with masks)" if with_truth else "")
    return ValidationSet(images, [None] * len(images), user, described, truths=truths, mask_spec=spec)


def prepare(source: str, opts: BuildOptions, report: Reporter, suffix: str = ".ptl") -> Prepared:
    """Options checked, output path claimed, source loaded: the format-independent first half."""
    _check_options(opts)
    out = _output_path(source, opts, suffix)
    clean_stale_temporaries(out)
    stages = _Stages(report)
    report(f"edgepack: building {out} from {source}")
    src = stages.run("load", load_source, source, weights=opts.weights, arch=opts.arch,
                     num_classes=opts.num_classes, model_class=opts.model_class,
                     trust_checkpoint=opts.trust_checkpoint,
                     task="segmentation" if opts.task == "segmentation" else None)
    _check_free_space(out.parent, _tensor_bytes(src.model))
    notes = list(src.notes)
    for note in notes:
        report(f"  note: {note}")
    opts = _resolve_task(source, src, opts)
    if opts.task == "segmentation":
        return _prepare_segmentation(source, src, opts, out, stages, notes, report)
    pre_cfg = resolve_preprocess(src, opts)
    if opts.task == "embedding":
        dim = stages.run("features", _to_embedding_network, src, source, pre_cfg.input_size)
        report(f"  embedding: pooled features, {dim} values, L2-normalised")
        return Prepared(out=out, src=src, labels=None, task="embedding", activation="l2norm", pre_cfg=pre_cfg,
                        image_input=opts.input != "float", stages=stages, notes=notes, dim=dim, opts=opts)
    labels = read_labels(opts.labels_file, src.num_classes) if opts.labels_file else src.labels
    if labels is not None and len(labels) != src.num_classes:
        raise EdgepackError(f"the checkpoint has {len(labels)} labels for {src.num_classes} classes")
    task = "multilabel" if src.multi_label else "multiclass"
    activation = "none" if opts.output_kind == "logits" else ("sigmoid" if src.multi_label else "softmax")
    return Prepared(out=out, src=src, labels=labels, task=task, activation=activation,
                    pre_cfg=pre_cfg, image_input=opts.input != "float",
                    stages=stages, notes=notes, opts=opts)


def _resolve_task(source: str, src: ModelSource, opts: BuildOptions) -> BuildOptions:
    """The task the source and the options agree on: a segmentation source (smp folder,
    torchvision:NAME, SemanticSegmenter checkpoint) makes the build a segmentation build."""
    if src.task == "segmentation":
        if opts.task == "embedding":
            raise EdgepackError(f"{source}: is a segmentation model; --task embedding needs a timm classifier source")
        opts = replace(opts, task="segmentation")
        _check_segmentation_options(opts)
        return opts
    if opts.task == "segmentation":
        raise EdgepackError(f"{source}: is not a segmentation model (an smp save_pretrained() folder, an smp state dict "
                            "with --arch smp:ARCH:ENCODER, torchvision:NAME, a SemanticSegmenter checkpoint, or a "
                            "LightningModule with --model-class whose forward returns [N, K, h, w])")
    if _segmentation_only(opts):
        raise EdgepackError(f"{_segmentation_only(opts)[0]} applies to segmentation builds; {source} is a classifier")
    return opts


def _prepare_segmentation(source: str, src: ModelSource, opts: BuildOptions, out, stages, notes,
                          report: Reporter) -> Prepared:
    """The segmentation contract: resize policy, network size, class count and the logits' shape."""
    if src.data_config.get("crop_pct") not in (None, 1, 1.0) and opts.resize_policy is None:
        report(f"  note: crop_pct {src.data_config.get('crop_pct')} of the data config ignored: a segmenter sees "
               "the whole frame")
    policy = opts.resize_policy or policy_for(src.data_config.get("crop_mode", "squash"))
    if policy is None:
        raise EdgepackError(f"{source}: its data config says crop_mode {src.data_config.get('crop_mode')!r}, which would "
                            "leave the frame's edges without a mask; pass --resize-policy squash or letterbox")
    where = DATA_CONFIG_ORIGINS.get(src.data_config_origin, "the data config")
    pre_cfg = resolve_config(dict(src.data_config, crop_pct=1.0, crop_mode=crop_mode_for(policy)), where,
                             image_size=opts.image_size, interpolation=opts.interpolation, mean=opts.mean, std=opts.std)
    divisor = max(1, int(src.size_divisor))
    h, w = pre_cfg.input_size
    if h % divisor or w % divisor:
        fit = [max(divisor, round(v / divisor) * divisor) for v in (h, w)]
        raise EdgepackError(f"network input {h}x{w}: this encoder needs sides divisible by {divisor}; "
                            f"pass --image-size {fit[0]}x{fit[1]}")
    if not isinstance(src.model, SegmentationNetwork):
        src.model = SegmentationNetwork(src.model).eval()
    net_output = stages.run("probe", _probe_logits, src, source, pre_cfg.input_size)
    channels = net_output[0]
    binary = channels == 1
    k = 2 if binary else channels
    if k > MAX_MASK_CLASSES:
        raise EdgepackError(f"{source}: {k} classes; a uint8 mask holds at most {MAX_MASK_CLASSES}")
    labels = read_labels(opts.labels_file, k) if opts.labels_file else src.labels
    if labels is None and binary:
        labels = ["background", "foreground"]
    if labels is not None and len(labels) != k:
        raise EdgepackError(f"the checkpoint has {len(labels)} labels for {k} classes")
    output = opts.output_kind or "mask"
    report(f"  segmentation: {k} classes, {policy} to {h}x{w}, logits {channels}x{net_output[1]}x{net_output[2]}, "
           + ("mask at the frame's resolution" if output == "mask" else "per-class map at the network's resolution"))
    return Prepared(out=out, src=src, labels=labels, task="segmentation",
                    activation="sigmoid" if binary else "softmax", pre_cfg=pre_cfg, image_input=True, stages=stages,
                    notes=notes, opts=opts, mask=MaskSpec(k, output, binary, pre_cfg), net_output=net_output)


def _probe_logits(src: ModelSource, source: str, size) -> List[int]:
    """[K, h, w] of the network's logits for a [1, 3, *size] input, checked."""
    try:
        with torch.no_grad():
            logits = src.model(torch.zeros(1, 3, *size))
    except Exception as exc:  # the user's network at this input size
        raise EdgepackError(f"{source}: the network fails on a [1, 3, {size[0]}, {size[1]}] input "
                            f"({_first_line(exc)})") from None
    if not isinstance(logits, torch.Tensor) or logits.dim() != 4 or logits.shape[0] != 1 or logits.shape[1] < 1:
        shape = list(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise EdgepackError(f"{source}: segmentation logits must be [N, K, h, w], got {shape}")
    if not bool(torch.isfinite(logits).all()):
        raise EdgepackError(f"{source}: the float model itself outputs NaN or inf logits (in eager PyTorch); the model "
                            "is broken, not the packaging; nothing written")
    return [int(v) for v in logits.shape[1:]]


def _to_embedding_network(src: ModelSource, source: str, size) -> int:
    """Replace the source's classifier by its timm network's pooled features; returns their size."""
    net = timm_network(src.model)
    if net is None:
        raise EdgepackError(f"{source}: --task embedding needs a timm network (forward_features/forward_head, "
                            "itself or as .backbone); this model has none")
    src.model = EmbeddingNetwork(net).eval()
    try:
        with torch.no_grad():
            features = src.model(torch.zeros(1, 3, *size))
    except Exception as exc:  # timm's head on an unusual network
        raise EdgepackError(f"{source}: cannot compute pooled features ({_first_line(exc)})") from None
    if features.dim() != 2 or features.shape[0] != 1 or features.shape[1] < 1:
        raise EdgepackError(f"{source}: pooled features have shape {list(features.shape)}, expected [1, D]")
    return int(features.shape[1])


def build_ptl(source: str, opts: BuildOptions, report: Reporter = _stderr) -> BuildResult:
    """Build a validated `.ptl` (use `edgepack.build`, which picks the format)."""
    if opts.runtime is not None and opts.bytecode_version is None:
        # Write what that runtime reads (a no-op when this torch already writes that or older).
        _check_options(opts)  # an unknown runtime gets its own message first
        opts = dataclasses.replace(opts, bytecode_version=max_bytecode_for_runtime(opts.runtime))
    prep = prepare(source, opts, report, ".ptl")
    opts = prep.opts
    out, src, labels, stages, notes = prep.out, prep.src, prep.labels, prep.stages, prep.notes
    task, pre_cfg, image_input = prep.task, prep.pre_cfg, prep.image_input
    channels_last = opts.channels_last
    if channels_last is None:
        channels_last = opts.optimize in ("auto", "xnnpack") and xnnpack_available()
    preprocess = ImagePreprocess(pre_cfg, channels_last=channels_last)
    size = pre_cfg.input_size

    def wrap(network):
        return make_pipeline(prep, preprocess, network, channels_last)

    float_reference = wrap(src.model).eval()
    vset = stages.run("inputs", validation_inputs, prep, opts, preprocess, size)
    inputs = vset.inputs

    engine = TARGETS[opts.target] if opts.quantize else None
    network, quant_info = src.model, {"mode": "none", "engine": None}
    previous_engine = torch.backends.quantized.engine
    # A Trainer(deterministic=True) earlier in the same process leaves deterministic algorithms
    # on, and some quantized kernels have no deterministic version; packaging needs none.
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(False)
    try:
        if engine:
            torch.backends.quantized.engine = engine
        if opts.quantize:
            from .quantize import quantize_network

            network, quant_info = stages.run("quantize", quantize_network, src.model, opts, preprocess, size,
                                             report)
        example = torch.zeros(1, 3, *size)
        if channels_last:
            example = example.contiguous(memory_format=torch.channels_last)
        exported = stages.run("export", script_or_trace, network, opts.method, example)
        scripted = stages.run("script", _script_pipeline, wrap(exported))
        float_outputs = stages.run("reference", run_all, float_reference, inputs)
        check_finite_reference(float_outputs, vset)
        if prep.segmentation:
            stages.run("reference", check_finite_logits, src.model, preprocess, vset)
        # Quantized builds: the optimiser is checked against the unoptimised quantized module, and
        # the quantization error separately against the float model (min agreement).
        packed_reference = (stages.run("reference", _run_quantized, wrap(network).eval(), inputs)
                            if opts.quantize else float_outputs)
        manifest_parts = {
            "format": "ptl", "source": src.info, "task": task, "labels": labels,
            "input": mf.image_input_spec(MIN_SIDE, MAX_SIDE) if image_input else mf.tensor_input_spec(*size),
            "output": prep.output_spec(),
            "preprocess": preprocess_manifest(prep, pre_cfg.to_manifest(channels_last)),
            "quantization": quant_info,
        }
        # Park the compiled pipeline on disk and drop every in-memory copy of the model: each
        # optimisation level reloads it (see optimize.variants), so the float or quantized model
        # no longer sits beside the optimised one and the lite interpreter's copy.
        stash = _tmp_path(out, "scripted")
        stages.run("stash", _stash, scripted, stash)
        src.model = network = exported = scripted = float_reference = None
        _release_freed_memory()
        try:
            return _optimize_save_validate(opts, out, lambda: torch.jit.load(str(stash)), vset,
                                           float_outputs, packed_reference, stages, report, notes,
                                           manifest_parts=manifest_parts, engine=engine)
        finally:
            stash.unlink(missing_ok=True)
    finally:
        torch.backends.quantized.engine = previous_engine
        torch.use_deterministic_algorithms(was_deterministic, warn_only=warn_only)


def _stash(module: torch.jit.ScriptModule, path: pathlib.Path) -> None:
    try:
        torch.jit.save(module, str(path))
    except RuntimeError as exc:
        path.unlink(missing_ok=True)
        raise EdgepackError(f"{path.parent}: cannot write a temporary file ({_first_line(exc)})") from None


def _run_quantized(pipeline: torch.nn.Module, inputs) -> List[torch.Tensor]:
    try:
        return run_all(pipeline, inputs)
    except RuntimeError as exc:  # e.g. QNNPACK refusing an add whose scales are out of its range
        raise EdgepackError(f"the quantized model does not run on the {torch.backends.quantized.engine} engine: "
                            f"{_first_line(exc)}") from None


def _script_pipeline(pipeline: torch.nn.Module) -> torch.jit.ScriptModule:
    try:
        return torch.jit.script(pipeline.eval())
    except Exception as exc:  # e.g. a network whose output is not one logits tensor
        raise EdgepackError(f"cannot compile the packaged pipeline: {_first_line(exc)} "
                            "(the network must map [N,3,H,W] to logits [N,C])") from None


def check_finite_reference(outputs, vset: ValidationSet, what: str = "float") -> None:
    """Refuse a model that outputs NaN or inf on the validation inputs before any file is made:
    no optimisation level can fix it, and every comparison with it would blame the optimiser."""
    bad = [i for i, o in enumerate(outputs) if not torch.isfinite(o).all()]
    if not bad:
        return
    model = "the float model itself (in eager PyTorch, before any export or optimisation)" if what == "float" \
        else f"the {what} model itself (before any export or optimisation)"
    raise EdgepackError(f"{model} outputs NaN or inf on {len(bad)} of {len(outputs)} validation inputs: the model "
                        "is broken, not the packaging (check its weights, e.g. BatchNorm running_var < 0, or "
                        "--mean/--std); nothing written")


def check_finite_logits(network: torch.nn.Module, preprocess: torch.nn.Module, vset: ValidationSet) -> None:
    """A segmentation mask hides NaN logits (argmax picks a class anyway): check the float
    network's logits on every validation input, as `check_finite_reference` checks outputs."""
    with torch.no_grad():
        logits = [network(preprocess(x)) for x in vset.inputs]
    check_finite_reference(logits, vset)


def _finite_figures(figures: dict) -> dict:
    """JSON has no NaN/inf (the manifest is strict JSON): such figures become null."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in figures.items()}


def _judged_pairs(reference, outputs, vset: ValidationSet, at_least: int = 1) -> list:
    pairs = [(r, o) for r, o, u in zip(reference, outputs, vset.user) if u]
    return pairs if len(pairs) >= at_least else list(zip(reference, outputs))


def _agreement(reference, outputs, vset: ValidationSet, task: str = "classification") -> float:
    """Top-1 agreement on the user's images when there are any (in-distribution: what matters for
    int8), else on all inputs. Synthetic frames give near-ties that flip on any rounding.
    Embeddings: top-1 retrieval agreement (each input's nearest neighbour among the others is the
    same by the file's vectors as by the float model's), among the --val images when there are at
    least three of them, else among all inputs."""
    if task == "embedding":
        pairs = _judged_pairs(reference, outputs, vset, at_least=3)
        return retrieval_agreement([r for r, _ in pairs], [o for _, o in pairs])
    pairs = _judged_pairs(reference, outputs, vset)
    return compare([r for r, _ in pairs], [o for _, o in pairs]).top1_agreement


def _judged_cosine(opts: BuildOptions, vs_float: Comparison, vset: Optional[ValidationSet]) -> tuple:
    """(the minimum cosine the --min-cosine gate judges, on what). Float builds: every input. int8
    builds: the --val images when given (in-distribution, like the classifier's int8 agreement;
    synthetic noise and stripes are far from what the calibration saw), else every input."""
    cosines = vs_float.per_input_cos
    if opts.quantize and vset is not None and any(vset.user):
        judged = [c for c, u in zip(cosines, vset.user) if u]
        return min(judged), f"{len(judged)} --val images"
    return min(cosines), f"all {len(cosines)} inputs"


def _compare(vset: ValidationSet, reference, outputs):
    """Classifier/embedding outputs compared as vectors; segmentation outputs as masks, with the
    ground truth's mIoU of both sides when the --val folder has masks."""
    if vset.mask_spec is None:
        return compare(reference, outputs)
    comp = compare_masks(reference, outputs, vset.mask_spec)
    comp.truth_reference = ground_truth_miou(reference, vset.truths, vset.mask_spec)
    comp.truth_file = ground_truth_miou(outputs, vset.truths, vset.mask_spec) if all(comp.valid) else None
    return comp


def _judged_user(vset: ValidationSet) -> Optional[List[bool]]:
    """int8 segmentation builds are judged on the --val images when there are any."""
    return vset.user if any(vset.user) else None


def _judge_segmentation(opts: BuildOptions, vs_packed: MaskComparison, vs_float: MaskComparison,
                        vset: ValidationSet) -> tuple:
    """Segmentation gates: mask pixel agreement with the float model (--min-pixel-agreement; int8
    judged on the --val images when given) and, with ground-truth masks, the mIoU lost against
    the float model (--max-miou-drop). Float builds retry with less optimisation on a miss."""
    if not all(vs_float.valid):
        return ("the file outputs NaN/inf or class indices outside 0..K-1 where the float model does not"), True
    # The lowered int8 file against the quantized eager model: as close as the gate asks of it
    # against the float model (at most 99%: int8 rounding differs between kernels).
    packed_gate = min(0.99, opts.pixel_agreement_gate())
    if opts.quantize and vs_packed.pooled_agreement() < packed_gate:
        return (f"optimised file deviates from the quantized model (mask pixel agreement "
                f"{vs_packed.pooled_agreement():.2%} < {packed_gate:.0%})"), True
    retry = not opts.quantize
    hint = "; try more --calib images or no quantization" if opts.quantize else ""
    keep = _judged_user(vset) if opts.quantize else None
    agreement, gate = vs_float.pooled_agreement(keep), opts.pixel_agreement_gate()
    if agreement < gate:
        on = "--val images" if keep else "all inputs"
        return (f"mask pixel agreement with the float model is {agreement:.2%} < {gate:.2%} "
                f"(--min-pixel-agreement, on {on}){hint}"), retry
    drop = _miou_drop(vs_float)
    if drop is not None and drop > opts.miou_gate():
        return (f"mIoU on the --val masks drops by {drop:.4f} > {opts.miou_gate()} (--max-miou-drop; float "
                f"{vs_float.truth_reference['miou']:.4f}, file {vs_float.truth_file['miou']:.4f}){hint}"), retry
    return None, False


def _miou_drop(comp: MaskComparison) -> Optional[float]:
    ref, out = comp.truth_reference, comp.truth_file
    if ref is None or out is None or not math.isfinite(ref["miou"]) or not math.isfinite(out["miou"]):
        return None
    return ref["miou"] - out["miou"]


def _segmentation_validation_section(opts: BuildOptions, sel: Selection, vset: ValidationSet, **extra) -> dict:
    """Segmentation figures: pixel agreement (pooled, worst input), IoU per class and mIoU of the
    file's masks against the float model's, the judged figure and gates, and with ground-truth
    masks the mIoU of both (and the drop)."""
    comp: MaskComparison = sel.vs_float
    keep = _judged_user(vset) if opts.quantize else None
    validation = dict(comp.to_dict(), passed=sel.passed, inputs=vset.described,
                      judged_pixel_agreement=round(comp.pooled_agreement(keep), 6),
                      judged_on="--val images" if keep else "all inputs",
                      min_pixel_agreement_gate=opts.pixel_agreement_gate(), max_miou_drop_gate=opts.miou_gate(),
                      **extra)
    ref, out = comp.truth_reference, comp.truth_file
    if ref is not None:
        validation.update(truth_images=ref["images"], float_miou=_finite_figures({"v": round(ref["miou"], 6)})["v"],
                          float_iou=[None if v is None else round(v, 6) for v in ref["iou"]])
    if out is not None:
        drop = _miou_drop(comp)
        validation.update(miou=_finite_figures({"v": round(out["miou"], 6)})["v"],
                          iou=[None if v is None else round(v, 6) for v in out["iou"]],
                          miou_drop=None if drop is None else round(drop, 6) + 0.0)
    if opts.quantize:
        validation["vs_quantized_eager"] = {"pixel_agreement": round(sel.vs_packed.pooled_agreement(), 6)}
    return validation


def _judge_embedding(opts: BuildOptions, vs_packed: Comparison, vs_float: Comparison, agreement: float,
                     vset: Optional[ValidationSet]) -> tuple:
    """Embedding gates: per-input cosine with the float model (--min-cosine) and top-1 retrieval
    agreement (--min-agreement). Float builds retry with less optimisation on a miss; int8 builds
    whose file matches the quantized model blame quantization (no retry)."""
    if not math.isfinite(vs_float.max_abs_err):
        return "the file outputs NaN or inf where the float model does not", True
    if opts.quantize and vs_packed.min_cosine < 0.99:
        return f"optimised file deviates from the quantized model (cosine {vs_packed.min_cosine:.4f})", True
    gate, retry = opts.cosine_gate(), not opts.quantize
    hint = "; try more --calib images, --quantize dynamic, or no quantization" if opts.quantize else ""
    cosine, judged_on = _judged_cosine(opts, vs_float, vset)
    if not cosine >= gate:
        return (f"embedding cosine similarity with the float model is {cosine:.6f} < {gate} "
                f"(--min-cosine, judged on {judged_on}){hint}"), retry
    if agreement < opts.min_agreement:
        return (f"top-1 retrieval agreement with the float model is {agreement:.1%} < {opts.min_agreement:.1%} "
                f"(--min-agreement){hint}"), retry
    return None, False


def _judge(opts: BuildOptions, vs_packed: Comparison, vs_float: Comparison, agreement: Optional[float],
           vset: Optional[ValidationSet] = None) -> tuple:
    """(why the candidate fails or None, whether less optimisation could help)."""
    if opts.task == "embedding":
        return _judge_embedding(opts, vs_packed, vs_float, agreement, vset)
    if opts.task == "segmentation":
        return _judge_segmentation(opts, vs_packed, vs_float, vset)
    if opts.quantize:
        if vs_packed.min_cosine < 0.99:
            return f"optimised file deviates from the quantized model (cosine {vs_packed.min_cosine:.4f})", True
        if agreement < opts.min_agreement:
            # The optimised file matches the quantized model: quantization itself is the cause.
            return (f"int8 top-1 agreement with the float model is {agreement:.1%} < {opts.min_agreement:.1%} "
                    "(--min-agreement); try more --calib images, --quantize dynamic, or no quantization"), False
        return None, False
    if not math.isfinite(vs_float.max_rel_err):
        return "the file outputs NaN or inf where the float model does not", True
    if not vs_float.max_rel_err <= opts.rtol:
        return f"max relative error {vs_float.max_rel_err:.2e} > {opts.rtol:.0e} (--rtol)", True
    return None, False


@dataclass
class Candidate:
    """One optimisation/lowering level's file, written and run by its format's own runtime."""

    path: pathlib.Path
    optimizer: dict  # the manifest's "optimizer" section for this level
    outputs: List[torch.Tensor]
    info: dict = field(default_factory=dict)  # format-specific (bytecode version, program, ...)

    @property
    def label(self) -> str:
        dropped = self.optimizer.get("dropped") or []
        return self.optimizer.get("path", "?") + (f" without {', '.join(dropped)}" if dropped else "")


class LevelUnusable(Exception):
    """A level produced a file that cannot be used (e.g. operators its target runtime lacks)."""


@dataclass
class Selection:
    candidate: Candidate
    passed: bool
    vs_float: Comparison
    vs_packed: Comparison


def select_candidate(levels, opts: BuildOptions, vset: ValidationSet, float_outputs, packed_reference,
                     report: Reporter, notes: List[str]) -> Selection:
    """Try levels (thunks returning a written, run Candidate; most aggressive first) until one
    validates; shared by every format. A level that cannot be produced or run is skipped (raise
    EdgepackError to stop instead); one that runs but changes outputs is retried with less
    optimisation when less could help. Rejected candidates' files are removed; with
    --accept-mismatch the last one that ran is returned, marked failed."""
    failures: List[str] = []
    last: Optional[Selection] = None
    for make in levels:
        try:
            cand = make()
        except EdgepackError:
            raise
        except LevelUnusable as exc:
            failures.append(str(exc))
            report(f"  {failures[-1]}; retrying with less optimisation")
            continue
        except Exception as exc:  # a pass, the lowering or the runtime failed on this level
            failures.append(f"an optimisation level failed ({_first_line(exc)})")
            report(f"  {failures[-1]}; retrying with less optimisation")
            continue
        vs_float = _compare(vset, float_outputs, cand.outputs)
        vs_packed = _compare(vset, packed_reference, cand.outputs) if opts.quantize else vs_float
        # segmentation judges its MaskComparison directly: no agreement to compute a second time
        agreement = None if opts.task == "segmentation" else _agreement(float_outputs, cand.outputs, vset, opts.task)
        reason, retry = _judge(opts, vs_packed, vs_float, agreement,
                               vset)
        if reason is None:
            if last is not None:
                last.candidate.path.unlink(missing_ok=True)
            if failures:
                notes.append("optimisation reduced because it changed outputs: " + "; ".join(failures))
                report(f"  note: {notes[-1]}")
            return Selection(cand, True, vs_float, vs_packed)
        failures.append(f"{cand.label}: {reason}")
        if last is not None:
            last.candidate.path.unlink(missing_ok=True)
        last = Selection(cand, False, vs_float, vs_packed)
        if not retry:
            break
        report(f"  {cand.label}: {reason}; retrying with less optimisation")
    if last is None:  # no level could even be run: the model or the target runtime is the problem
        raise EdgepackError(f"cannot produce a runnable file ({failures[-1]}); nothing written")
    if not opts.accept_mismatch:
        last.candidate.path.unlink(missing_ok=True)
        raise ValidationError(f"validation failed ({failures[-1]}); "
                              "nothing written (--accept-mismatch keeps the file anyway)")
    notes.append("validation FAILED and the file was kept because of --accept-mismatch")
    report(f"  note: {notes[-1]}")
    return last


def validation_section(opts: BuildOptions, sel: Selection, float_outputs, vset: ValidationSet, **extra) -> dict:
    """The manifest's "validation" figures, the same for every format."""
    outputs = sel.candidate.outputs
    if opts.task == "embedding":
        return _embedding_validation_section(opts, sel, float_outputs, vset, **extra)
    if opts.task == "segmentation":
        return _segmentation_validation_section(opts, sel, vset, **extra)
    validation = dict(_finite_figures(sel.vs_float.to_dict()), passed=sel.passed, inputs=vset.described,
                      rtol=None if opts.quantize else opts.rtol, **extra)
    if opts.quantize:
        validation.update(min_agreement=opts.min_agreement,
                          judged_top1_agreement=round(_agreement(float_outputs, outputs, vset), 5),
                          judged_on="--val images" if any(vset.user) else "all inputs",
                          vs_quantized_eager=_finite_figures(sel.vs_packed.to_dict()))
    float_acc = accuracy(float_outputs, vset.targets)
    if float_acc is not None:
        file_acc = accuracy(outputs, vset.targets)
        validation.update(float_accuracy=round(float_acc, 5), accuracy=round(file_acc, 5),
                          accuracy_drop=round(float_acc - file_acc, 5))
    return validation


def _embedding_validation_section(opts: BuildOptions, sel: Selection, float_outputs, vset: ValidationSet,
                                  **extra) -> dict:
    """Embedding figures: cosine with the float model per input (min, mean, each), top-1
    retrieval agreement, the file's vector norms, and the gates."""
    outputs = sel.candidate.outputs
    figures = sel.vs_float.to_dict()
    figures.pop("top1_agreement")  # argmax of a feature vector means nothing
    cosines = sel.vs_float.per_input_cos
    norm_errors = [float((o.detach().float().reshape(-1, o.shape[-1]).norm(dim=-1) - 1.0).abs().max())
                   for o in outputs]
    pairs = _judged_pairs(float_outputs, outputs, vset, at_least=3)
    judged_cosine, cosine_judged_on = _judged_cosine(opts, sel.vs_float, vset)
    validation = dict(_finite_figures(figures), passed=sel.passed, inputs=vset.described,
                      mean_cosine=_finite_figures({"v": round(sum(cosines) / len(cosines), 7)})["v"],
                      # 1 - min cosine, with significant digits: float builds round to a cosine of 1.0
                      max_cosine_distance=_finite_figures({"v": _round(max(0.0, 1.0 - min(cosines)))})["v"],
                      cosine_per_input=[c if math.isfinite(c) else None for c in (round(c, 7) for c in cosines)],
                      min_cosine_gate=opts.cosine_gate(),
                      judged_min_cosine=_finite_figures({"v": round(judged_cosine, 7)})["v"],
                      cosine_judged_on=cosine_judged_on,
                      retrieval_top1_agreement=round(_agreement(float_outputs, outputs, vset, "embedding"), 5),
                      retrieval_judged_on=(f"{len(pairs)} --val images" if any(vset.user) and len(pairs) < len(outputs)
                                           else f"all {len(pairs)} inputs"),
                      min_agreement=opts.min_agreement,
                      max_norm_error=_finite_figures({"v": round(max(norm_errors), 7)})["v"],
                      **extra)
    if opts.quantize:
        figures = sel.vs_packed.to_dict()
        figures.pop("top1_agreement")
        validation["vs_quantized_eager"] = _finite_figures(figures)
    return validation


def _identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit for bit, with NaN equal to NaN (a file kept with --accept-mismatch may answer NaN)."""
    return a.shape == b.shape and a.dtype == b.dtype and bool(((a == b) | (a.isnan() & b.isnan())).all())


def publish(final_tmp: pathlib.Path, out: pathlib.Path, rerun: Callable[[pathlib.Path], List[torch.Tensor]],
            validated: List[torch.Tensor], force: bool = False) -> None:
    """The final file differs from the validated candidate only in its manifest: prove it by
    running it again, then move it into place.

    Without `force` the move is exclusive and atomic: `os.link(final_tmp, out)` fails when `out`
    exists, so a file that appeared during the build (another program, a concurrent build of the
    same output) is never replaced, and of two builds racing for one new path exactly one wins.
    With `force`, `os.replace` (atomic, replaces a regular file). Either way `out` must not have
    become a FIFO, device or socket meanwhile."""
    if not all(_identical(a, b) for a, b in zip(rerun(final_tmp), validated)):
        raise ValidationError("the final file does not reproduce the validated outputs; nothing written")
    check_output_target(out)
    if force:
        os.replace(final_tmp, out)
        return
    appeared = EdgepackError(f"{out}: appeared while this build ran (another build or program wrote it); "
                             "nothing replaced, the build's file was discarded; pass --force to replace it")
    try:
        os.link(final_tmp, out)
    except FileExistsError:
        raise appeared from None
    except OSError:  # a file system without hard links (FAT, some FUSE/network mounts)
        try:  # claim the name exclusively, then move the file over the claim (atomic)
            os.close(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            raise appeared from None
        except OSError as exc:
            raise EdgepackError(f"{out}: cannot write the output file ({exc.strerror or exc})") from None
        os.replace(final_tmp, out)
        return
    final_tmp.unlink(missing_ok=True)


def _optimize_save_validate(opts, out, load_scripted, vset: ValidationSet, float_outputs,
                            packed_reference, stages, report, notes, manifest_parts, engine) -> BuildResult:
    """Try optimisation levels until a written, reloaded candidate validates; then write the final
    file from that candidate's records with the validation figures in its manifest."""
    final_tmp = _tmp_path(out, "final")

    def level(index: int, make):
        def run() -> Candidate:
            path = _tmp_path(out, f"l{index}.candidate")
            variant = stages.run("optimize", make)
            base = mf.base_manifest(**manifest_parts, optimizer=variant.describe(), options=opts.recorded())
            try:
                stages.run("save", _save, variant.module, path, dict(base, validation=None, bytecode_version=None))
                # The file on disk is all that matters from here on: free the optimised module (and
                # its prepacked weights) before the lite interpreter loads another copy.
                variant.module = None
                if opts.bytecode_version is not None:
                    stages.run("backport", backport_in_place, path, opts.bytecode_version)
                version = bytecode_version(path)
                _release_freed_memory()
                missing = _runtime_problems(path, opts.runtime)
                if missing:
                    raise LevelUnusable(f"{variant.path}: would not run on lite runtime {opts.runtime} ({missing[0]})")
                outputs = stages.run("validate", _run_lite, path, vset.inputs)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
            return Candidate(path, variant.describe(), outputs, {"bytecode_version": version})
        return run

    levels = (level(i, make) for i, make in enumerate(variants(load_scripted, opts.optimize)))
    sel = None
    try:
        sel = select_candidate(levels, opts, vset, float_outputs, packed_reference, report, notes)
        cand = sel.candidate
        validation = validation_section(opts, sel, float_outputs, vset, engine=engine,
                                        reference="float eager model")
        final = mf.base_manifest(**manifest_parts, optimizer=cand.optimizer, options=opts.recorded(),
                                 validation=validation, bytecode_version=cand.info["bytecode_version"],
                                 integrity=stages.run("digest", mf.archive_digests, cand.path))
        stages.run("write", _write_final, cand.path, final_tmp, final)
        publish(final_tmp, out, lambda p: _run_lite(p, vset.inputs), cand.outputs, force=opts.force)
    finally:
        final_tmp.unlink(missing_ok=True)
        if sel is not None:
            sel.candidate.path.unlink(missing_ok=True)
    report(f"edgepack: wrote {out} ({out.stat().st_size / 1e6:.2f} MB, optimizer {cand.label}, "
           f"{figures_line(sel, final['validation'])})")
    return BuildResult(output=str(out), size_bytes=out.stat().st_size, sha256=sha256_file(out),
                       bytecode_version=final["bytecode_version"], manifest=final, timings=stages.timings,
                       notes=notes, accepted_mismatch=not sel.passed)


def figures_line(sel: Selection, validation: dict) -> str:
    """The validation figures of a build's last line, per task."""
    if "pixel_agreement" in validation:
        truth = (f", mIoU {validation['miou']:.4f} vs float {validation['float_miou']:.4f} on ground truth"
                 if validation.get("miou") is not None else "")
        return (f"mask pixel agreement {validation['judged_pixel_agreement']:.2%} on {validation['judged_on']}, "
                f"mIoU vs eager {validation['miou_vs_reference']}{truth}")
    if "retrieval_top1_agreement" in validation:
        return (f"min cosine {validation['judged_min_cosine']} on {validation['cosine_judged_on']}, "
                f"retrieval agreement {validation['retrieval_top1_agreement']:.1%}")
    return f"max rel err {sel.vs_float.max_rel_err:.1e}, top-1 agreement {sel.vs_float.top1_agreement:.1%}"


def _run_lite(path: pathlib.Path, inputs) -> List[torch.Tensor]:
    """Run the file with one thread: in a process that already used OpenMP, XNNPACK's thread pool
    and spinning OpenMP workers contend, and a 2-thread run can be 100x slower. One thread is
    also how the app runs it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run_all(load_lite(path), inputs)
    finally:
        torch.set_num_threads(threads)


def _runtime_problems(path: pathlib.Path, runtime: Optional[str]) -> List[str]:
    if runtime is None:
        return []
    problems = operator_problems(path, runtime)
    if problems is None:  # _check_options refuses such runtimes before the build starts
        raise EdgepackError(f"--runtime {runtime}: no operator list for that runtime")
    return problems
