"""ExecuTorch `.pte`: the same validated artifact as `.ptl`, for the runtime new apps can ship.

Pipeline: the eager pipeline (stock-op preprocessing -> network -> activation) is exported with
`torch.export` (dynamic H, W up to `max_side` and 3 or 4 channels), lowered with ExecuTorch's
XNNPACK partitioner, written to a temporary file, loaded back with ExecuTorch's own runtime
(Python bindings) and compared with the eager float model on the shared validation inputs.

The manifest lives in the program itself, as a constant method `edgepack_manifest` that returns
the JSON text (`to_edge_transform_and_lower(constant_methods=...)`): an app reads it with
`module.execute("edgepack_manifest")` through the ExecuTorch runtime alone. The candidate is
lowered with the manifest padded to a fixed length; the final file replaces that string in place
with the manifest carrying the validation figures (same length, padded with spaces, which JSON
ignores), so the validated program is written unchanged, and the build proves it by rerunning it.

ExecuTorch plans every intermediate at the upper bound of each dynamic dimension: `max_side`
bounds the frame, `StockResize` keeps the preprocessing's intermediates small at that bound, and
the planned working memory is recorded in the manifest.
"""
from __future__ import annotations

import collections
import contextlib
import json
import os
import pathlib
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import torch

from .. import manifest as mf
from ..errors import EdgepackError
from ..export import _first_line
from ..files import check_input_file, sha256_file
from ..preprocess import MIN_SIDE, ImagePreprocess
from .stock_resize import StockResize

MANIFEST_METHOD = "edgepack_manifest"
DEFAULT_MAX_SIDE = 1920  # Full-HD frames in either orientation
MAX_MAX_SIDE = 4096
MANIFEST_SLACK = 4096  # room left in the candidate's manifest string for the validation figures
# Options of `edgepack build` that mean nothing for ExecuTorch, with the reason given to the user.
REFUSED_OPTIONS = {
    "bytecode_version": "--bytecode-version is a lite-interpreter (.ptl) setting; a .pte has no bytecode version",
    "runtime": "--runtime names a lite-interpreter release (.ptl); ExecuTorch files record their runtime version",
    "method": "--method script is TorchScript-only; .pte files are made with torch.export",
    "target": "--target x86 quantizes for torch's x86 engine; .pte int8 runs on XNNPACK on every CPU",
}


def executorch_version() -> Optional[str]:
    try:
        from importlib.metadata import version

        return version("executorch")
    except Exception:  # not installed
        return None


# ExecuTorch's native libraries are built against one torch release; importing them beside another
# fails or misbehaves. executorch 1.3.x is built for torch 2.12.
TORCH_FOR_EXECUTORCH = {"1.3": "2.12"}


def _require_executorch() -> str:
    version = executorch_version()
    if version is None:
        raise EdgepackError("the .pte format needs ExecuTorch: pip install executorch==1.3.1 "
                            "(the release built for torch 2.12)")
    wanted = TORCH_FOR_EXECUTORCH.get(".".join(version.split(".")[:2]))
    if wanted is not None and not torch.__version__.startswith(wanted + "."):
        raise EdgepackError(f"ExecuTorch {version} is built for torch {wanted}, but this environment has torch "
                            f"{torch.__version__.split('+')[0]}; .pte files need the pinned stack (requirements.txt)")
    _point_at_flatc()
    return version


def _point_at_flatc() -> None:
    """ExecuTorch's serializer runs `flatc`, looked up on PATH unless FLATC_EXECUTABLE is set. The
    pip package puts it in the environment's bin/ folder, which is not on PATH when a user runs
    `.venv/bin/edgepack` without activating the environment."""
    if os.environ.get("FLATC_EXECUTABLE"):
        return
    candidate = pathlib.Path(sys.executable).parent / "flatc"
    if candidate.is_file():
        os.environ["FLATC_EXECUTABLE"] = str(candidate)


def check_options(opts) -> None:
    """Refuse, with the reason, options that do not apply to ExecuTorch."""
    if opts.runtime is not None:
        raise EdgepackError(REFUSED_OPTIONS["runtime"])
    if opts.bytecode_version is not None:
        raise EdgepackError(REFUSED_OPTIONS["bytecode_version"])
    if opts.method != "trace":
        raise EdgepackError(REFUSED_OPTIONS["method"])
    if opts.target != "mobile":
        raise EdgepackError(REFUSED_OPTIONS["target"])
    if opts.optimize not in ("auto", "xnnpack", "none"):
        raise EdgepackError("--optimize for .pte: auto or xnnpack (XNNPACK delegate) or none (portable kernels only)")
    side = opts.max_side if opts.max_side is not None else DEFAULT_MAX_SIDE
    if not MIN_SIDE <= side <= MAX_MAX_SIDE:
        raise EdgepackError(f"--max-side must be in {MIN_SIDE}..{MAX_MAX_SIDE} (memory is planned for it)")


def runtime_versions(version: str) -> dict:
    """What the manifest says about the runtimes that load the file. ExecuTorch's compatibility
    policy (runtime/COMPATIBILITY.md): a runtime loads programs written by its own and the
    previous minor release; the Android library is published per release as
    org.pytorch:executorch-android:<version>."""
    major, minor = (int(v) for v in version.split(".")[:2])
    return {"version": version, "manifest_method": MANIFEST_METHOD,
            "runtimes": [f"{major}.{minor}.x", f"{major}.{minor + 1}.x"],
            "android": f"org.pytorch:executorch-android:{version}"}


# --- lowering ----------------------------------------------------------------------------------

@dataclass
class Lowered:
    """One lowering level's program, and what it says about itself."""

    buffer: bytes
    backend: str  # "xnnpack" or "portable"
    delegated_ops: int
    portable_ops: Dict[str, int]
    planned_bytes: int
    dropped: List[str] = field(default_factory=list)

    def describe(self) -> dict:
        total = self.delegated_ops + sum(self.portable_ops.values())
        return {"path": self.backend, "dropped": list(self.dropped),
                "delegated_ops": self.delegated_ops,
                "portable_ops": dict(sorted(self.portable_ops.items())),
                "delegated_share": round(self.delegated_ops / total, 4) if total else 0.0}


_NOT_OPS = ("alloc", "getitem", "sym_size", "executorch_prim", "view", "executorch_call_delegate")


def _op_name(target) -> str:
    name = getattr(target, "__name__", None) or str(target)
    return str(name).split(" ")[0]


def _count_ops(program) -> tuple:
    """(ops inside delegates, {portable op: count}) of an ExecutorchProgramManager."""
    graph_module = program.exported_program().graph_module
    delegated, portable = 0, collections.Counter()
    for node in graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        name = _op_name(node.target)
        if "executorch_call_delegate" in str(node.target):
            lowered = getattr(graph_module, node.args[0].target)
            delegated += sum(1 for n in lowered.original_module.graph.nodes if n.op == "call_function"
                             and not any(s in _op_name(n.target) for s in _NOT_OPS))
            continue
        if any(s in name for s in _NOT_OPS) or name.startswith("<"):
            continue
        portable[name.replace("aten.", "").replace(".out", "").replace("_out", "")] += 1
    return delegated, dict(portable)


def _quiet(fn, *args, **kwargs):
    """Run an export/lowering step without the FutureWarnings torch 2.12 and ExecuTorch 1.3 print
    about their own internals (pytree LeafSpec, guard_size_oblivious): nothing a user can act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return fn(*args, **kwargs)


def lower(exported, manifest_text: str, delegate: bool) -> Lowered:
    _point_at_flatc()
    return _quiet(_lower, exported, manifest_text, delegate)


def _lower(exported, manifest_text: str, delegate: bool) -> Lowered:
    # Out variants of the quantize/dequantize ops that stay outside a delegate (int8 on portable
    # kernels, the fallback level): registered by importing ExecuTorch's quantized kernels.
    import executorch.kernels.quantized  # noqa: F401
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import EdgeCompileConfig, ExecutorchBackendConfig, to_edge_transform_and_lower
    from executorch.exir.passes import MemoryPlanningPass

    edge = to_edge_transform_and_lower(
        exported,
        partitioner=[XnnpackPartitioner()] if delegate else [],
        # The preprocessing's size arithmetic uses sym_min/sym_max, which the IR validity check
        # rejects although every runtime runs them.
        compile_config=EdgeCompileConfig(_check_ir_validity=False),
        constant_methods={MANIFEST_METHOD: manifest_text},
    )
    # The input frame is the caller's buffer: planning it would reserve max_side^2 x 4 bytes.
    program = edge.to_executorch(ExecutorchBackendConfig(
        memory_planning_pass=MemoryPlanningPass(alloc_graph_input=False)))
    delegated, portable = _count_ops(program)
    plan = program.executorch_program.execution_plan
    forward = next(p for p in plan if p.name == "forward")
    planned = int(sum(forward.non_const_buffer_sizes))
    return Lowered(bytes(program.buffer), "xnnpack" if delegate else "portable", delegated, portable, planned)


def padded_manifest(manifest: dict, length: Optional[int] = None) -> str:
    text = mf.dumps(manifest)
    if length is None:
        return text + " " * MANIFEST_SLACK
    if len(text.encode("utf-8")) > length:
        raise ValueError("manifest outgrew its reserved space")
    return text + " " * (length - len(text.encode("utf-8")))


def replace_manifest(buffer: bytes, old: str, new: str) -> bytes:
    """The program with its manifest string swapped for one of the same length."""
    old_b, new_b = old.encode("utf-8"), new.encode("utf-8")
    if len(old_b) != len(new_b) or buffer.count(old_b) != 1:
        raise ValueError("cannot locate the manifest string in the program")
    return buffer.replace(old_b, new_b)


# --- running -----------------------------------------------------------------------------------

@contextlib.contextmanager
def _native_log(lines: List[str]):
    """Collect what the runtime's C++ code prints on stderr (cpuinfo probing on x86, its error
    log) instead of letting it interleave with edgepack's one-line messages; the caller puts the
    useful part into its error."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded use): let it through
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(line for line in sink.read().decode("utf-8", "replace").splitlines()
                         if line.strip() and "cpuinfo" not in line)


def _runtime_reason(exc: Exception, log: List[str]) -> str:
    detail = next((line for line in reversed(log) if "rror" in line or "issing" in line), None)
    return _first_line(exc) + (f"; runtime said: {detail.strip()[:200]}" if detail else "")


_MANIFEST_HEAD = b'{\n "bytecode_version": '


def manifest_text_from_bytes(data: bytes) -> Optional[str]:
    """The manifest string of a `.pte`, found in its bytes without running anything: edgepack's
    manifest JSON starts with this key (sorted keys) and the flatbuffer stores a string as a
    little-endian uint32 length followed by its bytes. None when it cannot be found unambiguously
    (the runtime path then reads it)."""
    start = data.find(_MANIFEST_HEAD)
    if start < 4 or data.find(_MANIFEST_HEAD, start + 1) >= 0:
        return None
    length = int.from_bytes(data[start - 4:start], "little")
    if length <= 0 or start + length > len(data):
        return None
    try:
        return data[start:start + length].decode("utf-8")
    except UnicodeDecodeError:
        return None


class PteModule:
    """A `.pte` loaded with ExecuTorch's runtime; callable like a module on one input tensor."""

    def __init__(self, path, verify: bool = False):
        """`verify`: check the file against the digests in its manifest (edgepack.integrity) after
        the program is parsed and before the forward method (delegates, weights) is loaded; the
        result is `self.integrity`. The build's candidates have no digests yet and skip it."""
        _require_executorch()
        from executorch.runtime import Runtime, Verification

        path = pathlib.Path(path)
        self.path = path
        check_input_file(path, ".pte model")
        log: List[str] = []
        self.integrity: Optional[dict] = None
        early_text = None
        if verify:
            # Check the digest from the bytes alone first: ExecuTorch's loader can crash or hang on
            # a damaged file (seen in the fuzz campaign), so it must never see one.
            from ..integrity import verify_pte

            data = path.read_bytes()
            early_text = manifest_text_from_bytes(data)
            if early_text is not None:
                self.integrity = verify_pte(path, _parse_manifest(path, early_text), early_text, data)
        try:
            with _native_log(log):
                runtime = Runtime.get()
                self.program = runtime.load_program(str(path), verification=Verification.InternalConsistency)
        except Exception as exc:  # the runtime raises RuntimeError/ValueError for bad programs
            raise EdgepackError(f"{path}: ExecuTorch cannot load it ({_runtime_reason(exc, log)})") from None
        if verify:
            from ..integrity import verify_pte

            try:
                with _native_log(log):
                    text = self.manifest_text()
            except Exception as exc:  # a damaged manifest method
                raise EdgepackError(f"{path}: ExecuTorch cannot run its manifest method "
                                    f"({_runtime_reason(exc, log)})") from None
            if early_text is not None and text != early_text:
                from ..integrity import DamagedFile

                raise DamagedFile(path, "the manifest the program returns is not the one in its bytes")
            if early_text is None:
                self.integrity = verify_pte(path, _parse_manifest(path, text), text)
        try:
            with _native_log(log):
                self.forward = self.program.load_method("forward")
        except Exception as exc:
            raise EdgepackError(f"{path}: ExecuTorch cannot load it ({_runtime_reason(exc, log)})") from None
        if self.forward is None:
            raise EdgepackError(f"{path}: the program has no forward method")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward.execute([x.contiguous()])[0]

    def check_frame(self, frame: torch.Tensor, max_side: Optional[int]) -> None:
        """A clear error for a frame beyond the file's max side (the graph would answer NaN)."""
        if max_side is not None and frame.dim() == 3 and max(frame.shape[0], frame.shape[1]) > max_side:
            raise EdgepackError(f"{frame.shape[1]}x{frame.shape[0]} frame: this .pte takes sides up to {max_side} "
                                "px (its memory is planned for that); scale the image down first")

    def signature(self) -> Optional[tuple]:
        """(input sizes, input dtype code, output sizes) of `forward` as planned in the program."""
        try:
            meta = self.forward.metadata
            if meta.num_inputs() != 1 or meta.num_outputs() < 1:
                return None
            inp = meta.input_tensor_meta(0)
            return list(inp.sizes()), int(inp.dtype()), list(meta.output_tensor_meta(0).sizes())
        except Exception:  # noqa: BLE001 - bindings without metadata: the first run checks the output
            return None

    def manifest_text(self) -> Optional[str]:
        if MANIFEST_METHOD not in self.program.method_names:
            return None
        try:
            value = self.program.load_method(MANIFEST_METHOD).execute([])[0]
        except Exception as exc:  # noqa: BLE001 - e.g. UnicodeDecodeError: damaged manifest bytes
            raise EdgepackError(f"{self.path}: corrupt manifest ({_first_line(exc)})") from None
        return value if isinstance(value, str) else None


def set_threads(n: int) -> None:
    """ExecuTorch's own thread pool (separate from torch's OpenMP pool)."""
    from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

    _unsafe_reset_threadpool(int(n))


def load(path) -> Callable:
    return PteModule(path)


def read_manifest(path, verify: bool = False) -> Optional[dict]:
    """The manifest of a `.pte` (None when it has none), checked against the program's own input and
    output; `verify`: refuse a damaged file."""
    module = PteModule(path, verify=verify)
    return parse_manifest(module.manifest_text(), path, module.signature())


def _parse_manifest(path, text: Optional[str]) -> Optional[dict]:
    return parse_manifest(text, path)


# ScalarType codes of the ExecuTorch schema that a manifest's input can name.
_UINT8, _FLOAT32 = 0, 6


def parse_manifest(text: Optional[str], path, signature: Optional[tuple] = None) -> Optional[dict]:
    """The manifest text of a `.pte`, parsed and checked (`manifest.check_manifest`), and checked
    against the program's own input and output (`signature`: input sizes, input dtype code and
    output sizes as planned in the program); None when the program has none."""
    if text is None:
        return None
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise EdgepackError(f"{path}: corrupt manifest ({exc})") from None
    mf.check_manifest(manifest, path, "pte")
    if signature is not None:
        check_signature(signature, manifest, path)
    return manifest


def check_signature(signature: tuple, manifest: dict, path) -> None:
    """The manifest's input and output against the program's: an image program takes uint8
    [max_side, max_side, 4] at most, a tensor program float32 of the manifest's shape, and the
    output has the manifest's shape (a copied or edited manifest is refused before any run)."""
    in_sizes, in_dtype, out_sizes = signature
    inp, declared = manifest["input"], manifest["output"]["shape"]
    if inp["kind"] == "image":
        real = "image" if in_dtype == _UINT8 and len(in_sizes) == 3 else "tensor"
    else:
        real = "tensor" if in_dtype == _FLOAT32 and len(in_sizes) == 4 else "image"
    if real != inp["kind"]:
        raise mf.ManifestError(f"{path}: its manifest says input.kind {inp['kind']!r} but the program takes "
                               f"{'a uint8 image' if real == 'image' else 'a float tensor'} "
                               f"{list(in_sizes)}; rebuild it with 'edgepack build'")
    if real == "image" and [int(in_sizes[0]), int(in_sizes[1])] != [inp["max_side"]] * 2:
        raise mf.ManifestError(f"{path}: its manifest says input.max_side {inp['max_side']} but the program is "
                               f"planned for {int(in_sizes[0])}; rebuild it with 'edgepack build'")
    if real == "tensor" and [int(s) for s in in_sizes] != inp["shape"]:
        raise mf.ManifestError(f"{path}: its manifest says input.shape {inp['shape']} but the program takes "
                               f"{[int(s) for s in in_sizes]}; rebuild it with 'edgepack build'")
    mf.check_output(list(out_sizes), manifest, path)


def run_file(path, inputs) -> List[torch.Tensor]:
    module = PteModule(path)
    with torch.no_grad():
        return [module(x).clone() for x in inputs]


# --- the build ---------------------------------------------------------------------------------

def _export(pipeline: torch.nn.Module, example: torch.Tensor, max_side: int, image_input: bool):
    from torch.export import Dim, export

    if image_input:
        dims = ({0: Dim("height", min=MIN_SIDE, max=max_side), 1: Dim("width", min=MIN_SIDE, max=max_side),
                 2: Dim("channels", min=3, max=4)},)
    else:
        dims = None
    try:
        with torch.no_grad():
            return _quiet(export, pipeline, (example,), dynamic_shapes=dims)
    except Exception as exc:
        raise EdgepackError(f"torch.export cannot capture this network for ExecuTorch ({_first_line(exc)}); "
                            "build a .ptl instead (--format ptl)") from None


def _quantize_pt2e(network: torch.nn.Module, mode: str, batches: List[torch.Tensor], size, report) -> tuple:
    """PT2E int8 with ExecuTorch's XNNPACK quantizer: per-channel weights; static calibrates on
    `batches` (images through the bundled preprocessing), dynamic quantizes the inputs of the
    layers it covers at run time."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (XNNPACKQuantizer,
                                                                          get_symmetric_quantization_config)
    from torch.export import export
    from torchao.quantization.pt2e import move_exported_model_to_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    dynamic = mode == "dynamic"
    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True,
                                                                                is_dynamic=dynamic))
    example = (torch.zeros(1, 3, *size),)
    try:
        captured = export(network.eval(), example).module()
        # Eval-mode dropout/batch norm before annotating: swapped in after prepare_pt2e, the new
        # dropout node orphans the dynamic quantizer's choose_qparams for the linear after it
        # ("No chose qparams node found for linear": every timm head with a dropout before fc).
        move_exported_model_to_eval(captured)
        prepared = prepare_pt2e(captured, quantizer)
        with torch.no_grad():
            for batch in (batches if not dynamic else [example[0]]):
                prepared(batch)
        quantized = convert_pt2e(prepared)
        move_exported_model_to_eval(quantized)
    except Exception as exc:
        other = "--quantize static --calib DIR" if dynamic else "--quantize dynamic"
        raise EdgepackError(f"PT2E {mode} quantization failed on this network ({_first_line(exc)}); "
                            f"try {other} or no quantization") from None
    info = {"mode": mode, "method": "pt2e", "quantizer": "XNNPACKQuantizer", "engine": "xnnpack",
            "weights": "int8 per-channel symmetric",
            "activations": "int8 dynamic (per run)" if dynamic else "int8 static (calibrated)"}
    if not dynamic:
        info["calibration_images"] = len(batches)
    if dynamic:
        # XNNPACKQuantizer's dynamic patterns cover linear and convolution layers, unlike
        # torch's dynamic quantization for .ptl (linear only): bundled example, 9.4 -> 6.1 MB.
        report("  note: dynamic int8 quantizes the weights of linear and convolution layers that XNNPACK "
               "supports, and their inputs at run time; --quantize=static --calib DIR usually does more")
    return quantized, info


def build_pte(source: str, opts, report) -> "BuildResult":
    from ..integrity import pte_masked_digest, pte_section
    from ..package import (BuildResult, Candidate, LevelUnusable, _release_freed_memory, _tmp_path,
                           check_finite_logits, check_finite_reference, figures_line, make_pipeline, prepare,
                           preprocess_manifest, publish,
                           select_candidate, validation_inputs, validation_section)
    from ..validate import run_all

    check_options(opts)
    et_version = _require_executorch()
    max_side = opts.max_side if opts.max_side is not None else DEFAULT_MAX_SIDE
    prep = prepare(source, opts, report, ".pte")
    opts = prep.opts
    if prep.letterbox:
        raise EdgepackError("--resize-policy letterbox is not available in a .pte yet (cutting the padding off "
                            "needs sizes computed from the frame inside the program); use squash or build a .ptl")
    out, src, stages, notes = prep.out, prep.src, prep.stages, prep.notes
    size = prep.pre_cfg.input_size
    channels_last = bool(opts.channels_last)
    preprocess = StockResize(prep.pre_cfg, max_side, channels_last=channels_last)

    preprocess.eval()
    src.model.eval()

    def wrap(network):
        # Not .eval(): it recurses, and a PT2E-quantized network (an exported module) refuses it;
        # the parts are in eval mode already.
        pipeline = make_pipeline(prep, preprocess, network, channels_last)
        pipeline.training = False
        return pipeline

    vset = stages.run("inputs", validation_inputs, prep, opts, preprocess, size)
    if prep.image_input:
        for x in vset.inputs:
            if max(x.shape[0], x.shape[1]) > max_side:
                raise EdgepackError(f"a --val image is {x.shape[1]}x{x.shape[0]}, larger than --max-side {max_side}; "
                                    "raise --max-side or use smaller validation images")
    float_outputs = stages.run("reference", run_all, wrap(src.model), vset.inputs)
    check_finite_reference(float_outputs, vset)  # a NaN/inf model: say so before any lowering
    if prep.segmentation:
        check_finite_logits(src.model, preprocess, vset)
    network, quant_info = src.model, {"mode": "none", "engine": None}
    if opts.quantize:
        from ..quantize import calibration_batches

        batches = []
        if opts.quantize == "static":
            # Calibrate through the .ptl preprocessing (torch's uint8 kernels, PIL-like): the same
            # network inputs as StockResize up to rounding, and no memory bound on calibration frames.
            batches = calibration_batches(opts.calib, opts.calib_count, ImagePreprocess(prep.pre_cfg),
                                          opts.max_pixels)
        network, quant_info = stages.run("quantize", _quiet, _quantize_pt2e, src.model, opts.quantize, batches, size,
                                         report)
    packed_reference = (stages.run("reference", run_all, wrap(network), vset.inputs) if opts.quantize
                        else float_outputs)
    example = vset.inputs[0] if not prep.image_input else torch.zeros(240, 320, 3, dtype=torch.uint8)
    exported = stages.run("export", _export, wrap(network), example, max_side, prep.image_input)
    src.model = network = None
    _release_freed_memory()

    input_spec = (mf.image_input_spec(MIN_SIDE, max_side) if prep.image_input else mf.tensor_input_spec(*size))
    pre_manifest = preprocess_manifest(prep, prep.pre_cfg.to_manifest(channels_last))
    if prep.image_input:
        pre_manifest.update(resize="stock ops (StockResize): Pillow filter weights, vertical pass first",
                            resize_rounding="uint8")
    parts = {"format": "pte", "source": src.info, "task": prep.task, "labels": prep.labels, "input": input_spec,
             "output": prep.output_spec(), "preprocess": pre_manifest, "quantization": quant_info,
             "executorch": runtime_versions(et_version),
             "bytecode_version": None, "options": opts.recorded()}

    def level(delegate: bool, dropped: List[str]):
        def run() -> Candidate:
            base = mf.base_manifest(**parts, optimizer=None, memory=None, validation=None)
            reserved = padded_manifest(base)
            lowered = stages.run("lower", lower, exported, reserved, delegate)
            lowered.dropped = dropped
            path = _tmp_path(out, f"l{1 - int(delegate)}.candidate")
            try:
                _write_bytes(path, lowered.buffer)
                try:
                    outputs = stages.run("validate", run_file, path, vset.inputs)
                except EdgepackError as exc:  # the runtime refused this lowering: try the next level
                    raise LevelUnusable(f"{'xnnpack' if delegate else 'portable'}: {exc}") from None
            except BaseException:
                path.unlink(missing_ok=True)
                raise
            return Candidate(path, lowered.describe(), outputs, {"lowered": lowered, "reserved": reserved})
        return run

    # Most aggressive first: the network delegated to XNNPACK, then portable kernels only.
    levels = {"auto": [level(True, []), level(False, ["xnnpack_delegate"])],
              "xnnpack": [level(True, [])], "none": [level(False, ["xnnpack_delegate"])]}[opts.optimize]
    final_tmp = _tmp_path(out, "final")
    sel = None
    try:
        sel = select_candidate(levels, opts, vset, float_outputs, packed_reference, report, notes)
        cand = sel.candidate
        lowered = cand.info["lowered"]
        validation = validation_section(opts, sel, float_outputs, vset,
                                        engine="xnnpack" if opts.quantize else None,
                                        reference="float eager model (same bundled preprocessing)",
                                        runtime=f"executorch {et_version} (Python bindings)")
        memory = {"planned_bytes": lowered.planned_bytes, "max_side": max_side if prep.image_input else None,
                  "note": "working memory ExecuTorch plans for the largest accepted input; the weights, "
                          "the input frame and XNNPACK's own workspace (delegated layers) come on top"}
        reserved = cand.info["reserved"]
        # The digest of the program without its manifest string, which the final manifest
        # replaces in place with one of the same length (edgepack.integrity).
        digest = stages.run("digest", pte_masked_digest, lowered.buffer, reserved)
        final = mf.base_manifest(**parts, optimizer=cand.optimizer, memory=memory, validation=validation,
                                 integrity=pte_section(digest))
        final_text = padded_manifest(final, len(reserved.encode("utf-8")))
        stages.run("write", _write_bytes, final_tmp, replace_manifest(lowered.buffer, reserved, final_text))
        publish(final_tmp, out, lambda p: run_file(p, vset.inputs), cand.outputs, force=opts.force)
    finally:
        final_tmp.unlink(missing_ok=True)
        if sel is not None:
            sel.candidate.path.unlink(missing_ok=True)
    report(f"edgepack: wrote {out} ({out.stat().st_size / 1e6:.2f} MB, {cand.label}, "
           f"{cand.optimizer['delegated_share']:.0%} of ops delegated, planned memory "
           f"{lowered.planned_bytes / 1e6:.1f} MB, {figures_line(sel, validation)})")
    return BuildResult(output=str(out), size_bytes=out.stat().st_size, sha256=sha256_file(out),
                       bytecode_version=None, manifest=final, timings=stages.timings, notes=notes,
                       accepted_mismatch=not sel.passed)


def _write_bytes(path: pathlib.Path, data: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise EdgepackError(f"{path.parent}: cannot write the output file ({exc.strerror or exc})") from None


# --- inspect -----------------------------------------------------------------------------------

def _deserialize(path: pathlib.Path, data: bytes):
    if data[4:6] != b"ET":
        raise EdgepackError(f"{path}: not an ExecuTorch program (no ET flatbuffer identifier)")
    _require_executorch()
    from executorch.exir._serialize._program import deserialize_pte_binary

    try:
        return deserialize_pte_binary(data).program
    except Exception as exc:  # flatc or the schema reader on a damaged file
        raise EdgepackError(f"{path}: corrupt ExecuTorch program ({_first_line(exc)})") from None


def manifest_from_program(program) -> Optional[str]:
    plan = next((p for p in program.execution_plan if p.name == MANIFEST_METHOD), None)
    if plan is None:
        return None
    strings = [v.val.string_val for v in plan.values if type(v.val).__name__ == "String"]
    return strings[0] if len(strings) == 1 else None


def _program_signature(program) -> Optional[tuple]:
    """(input sizes, input dtype code, output sizes) of `forward`, from the flatbuffer."""
    plan = next((p for p in program.execution_plan if p.name == "forward"), None)
    if plan is None or len(plan.inputs) != 1 or len(plan.outputs) < 1:
        return None
    try:
        inp, out = plan.values[plan.inputs[0]].val, plan.values[plan.outputs[0]].val
        return list(inp.sizes), int(inp.scalar_type), list(out.sizes)
    except (AttributeError, IndexError, TypeError, ValueError):
        return None


def describe(path) -> dict:
    """Everything `edgepack inspect` reports about a `.pte`, read from the flatbuffer without
    running it: methods, the operators the runtime must provide (portable kernels), delegate
    backends, planned memory, and the manifest."""
    import hashlib

    path = pathlib.Path(path)
    check_input_file(path, ".pte model")
    data = path.read_bytes()
    program = _deserialize(path, data)
    text = manifest_from_program(program)
    manifest = parse_manifest(text, path, _program_signature(program))
    from ..integrity import verify_pte

    integrity = verify_pte(path, manifest, text, data)
    methods = {}
    for plan in program.execution_plan:
        methods[plan.name] = {
            "operators": sorted(f"{o.name}.{o.overload}" if o.overload else o.name for o in plan.operators),
            "delegates": collections.Counter(d.id for d in plan.delegates),
            "planned_bytes": int(sum(plan.non_const_buffer_sizes[1:])),
            "instructions": sum(len(c.instructions) for c in plan.chains),
        }
    forward = methods.get("forward", {"operators": [], "delegates": {}, "planned_bytes": 0, "instructions": 0})
    return {
        "file": str(path),
        "size_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "format": "ExecuTorch program (.pte, flatbuffer)",
        "program_version": program.version,
        "methods": sorted(methods),
        "operators": [{"name": op, "count": None} for op in forward["operators"]],
        "num_operators": len(forward["operators"]),
        "delegates": dict(forward["delegates"]),
        "planned_bytes": forward["planned_bytes"],
        "instructions": forward["instructions"],
        "integrity": integrity,
        "manifest": manifest,
    }


def format_description(info: dict) -> str:
    from ..inspect import format_manifest_lines
    from ..integrity import describe as describe_integrity

    m = info.get("manifest") or {}
    lines = [f"{info['file']}",
             f"  size            {info['size_bytes'] / 1e6:.2f} MB ({info['size_bytes']} bytes)",
             f"  sha256          {info['sha256']}",
             f"  format          {info['format']}, program version {info['program_version']}",
             f"  methods         {', '.join(info['methods'])}",
             f"  planned memory  {info['planned_bytes'] / 1e6:.1f} MB (working memory for the largest input)",
             f"  delegates       " + (", ".join(f"{k} x{v}" for k, v in info["delegates"].items()) or "none"),
             f"  integrity       {describe_integrity(info['integrity'])}"]
    et = m.get("executorch") or {}
    if et:
        lines.append(f"  executorch      written by {et.get('version')}; runtimes {', '.join(et.get('runtimes') or [])} "
                     f"load it (ExecuTorch's compatibility policy); Android: {et.get('android')}")
    lines += format_manifest_lines(m)
    opt = m.get("optimizer") or {}
    if opt.get("portable_ops") is not None:
        lines.append(f"  lowering        {opt.get('path')}: {opt.get('delegated_ops')} ops delegated, "
                     f"{sum(opt['portable_ops'].values())} on portable kernels "
                     f"({opt.get('delegated_share') or 0:.0%} delegated)")
    lines.append(f"  operators       {info['num_operators']} portable kernels the runtime must provide")
    for op in info["operators"]:
        lines.append(f"    {op['name']}")
    return "\n".join(lines)


# --- check -------------------------------------------------------------------------------------

def _segmentation_problem(y: torch.Tensor, frame: torch.Tensor, manifest: dict, path) -> Optional[str]:
    """Why a segmentation output breaks its manifest's contract (None when it keeps it): a mask of
    the frame's size with classes 0..K-1, or a per-class map of the declared shape whose softmax
    sums to 1 at every pixel."""
    out = manifest.get("output") or {}
    if out.get("kind") == "mask":
        try:
            mf.check_output(y, manifest, path, frame=frame)
        except mf.ManifestError as exc:
            return str(exc).split(": ", 1)[-1]
        return None
    if list(y.shape) != out.get("shape"):
        return f"output shape {list(y.shape)}, the manifest says {out.get('shape')}"
    if out.get("activation") == "softmax" and not torch.allclose(y.sum(0), torch.ones_like(y[0]), atol=1e-4):
        return "per-class probabilities do not sum to 1 at every pixel"
    return None


def check(path) -> dict:
    """`edgepack check FILE.pte`: run the file in the installed ExecuTorch runtime (the release the
    Android library is built from) and check the contract an app relies on, from the file alone:
    the manifest reads back through the runtime, outputs have the manifest's shape and are finite
    (probabilities sum to 1), an RGBA frame gives the RGB frame's answer, and frames of the
    smallest and largest accepted sides run; an embedding file's vectors are unit vectors of the
    manifest's `dim`. `passed` False with a `reason` when any fails."""
    import math as _math

    from ..validate import synthetic_images

    version = _require_executorch()
    module = PteModule(path, verify=True)  # a damaged file is refused (exit 2) before it runs
    manifest = parse_manifest(module.manifest_text(), path, module.signature())  # untrusted: checked
    report = {"model": str(path), "runtime": f"executorch {version} (Python bindings)", "passed": False,
              "reason": None, "checks": [], "integrity": module.integrity}
    if manifest is None:
        report["reason"] = "no edgepack_manifest method: not built by edgepack"
        return report
    written = (manifest.get("executorch") or {}).get("version")
    report["written_by"] = f"executorch {written}"
    inp, out = manifest.get("input") or {}, manifest.get("output") or {}
    embedding = mf.is_embedding(manifest)
    n = out.get("dim") if embedding else out.get("num_classes")
    frames = []
    if inp.get("kind") == "image":
        side = inp.get("max_side") if isinstance(inp.get("max_side"), int) else DEFAULT_MAX_SIDE
        frames = [("synthetic", img) for img in synthetic_images()]
        gen = torch.Generator().manual_seed(0)
        frames.append(("largest side", torch.randint(0, 256, (side, max(16, side // 2), 3), dtype=torch.uint8,
                                                     generator=gen)))
        frames.append(("smallest side", torch.randint(0, 256, (16, 16, 3), dtype=torch.uint8, generator=gen)))
    elif isinstance(inp.get("shape"), list):
        frames = [("random tensor", torch.randn(*inp["shape"], generator=torch.Generator().manual_seed(0)))]
    for label, frame in frames:
        try:
            y = module(frame)
        except Exception as exc:  # the runtime failed on an input the manifest says it accepts
            report["reason"] = f"{label} input {list(frame.shape)}: the runtime failed ({_first_line(exc)})"
            return report
        flat = y.reshape(-1)
        if mf.is_segmentation(manifest):
            problem = _segmentation_problem(y, frame, manifest, path)
            if problem:
                report["reason"] = f"{label} input {list(frame.shape)}: {problem}"
                return report
        elif n is not None and flat.numel() != n * (1 if inp.get("kind") == "image" else inp["shape"][0]):
            report["reason"] = (f"output has {flat.numel()} values, the manifest says "
                                + (f"dim {n}" if embedding else f"{n} classes"))
            return report
        if list(y.shape) != out.get("shape") and not mf.is_segmentation(manifest):
            report["reason"] = f"{label} input: output shape {list(y.shape)}, the manifest says {out.get('shape')}"
            return report
        if not bool(torch.isfinite(flat).all()):
            report["reason"] = f"{label} input {list(frame.shape)}: non-finite outputs"
            return report
        if out.get("kind") == "probabilities" and out.get("activation") == "softmax" and \
                not mf.is_segmentation(manifest) and not _math.isclose(float(flat.sum()), 1.0, abs_tol=1e-4):
            report["reason"] = f"{label} input: probabilities sum to {float(flat.sum()):.5f}"
            return report
        if embedding and mf.norm_problem(y) is not None:
            report["reason"] = f"{label} input: {mf.norm_problem(y)}"
            return report
        if frame.dim() == 3 and frame.shape[2] == 3:
            rgba = torch.cat([frame, torch.full_like(frame[:, :, :1], 255)], 2)
            if not torch.allclose(module(rgba).float(), y.float(), atol=1e-6):
                report["reason"] = f"{label} input: RGBA and RGB frames give different outputs"
                return report
        report["checks"].append(f"{label} {list(frame.shape)}: ok")
    report.update(passed=True, inputs=len(frames))
    return report
