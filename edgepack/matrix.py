"""`edgepack matrix`: build every variant of one or more models, measure them side by side, and say
which file to ship.

A *cell* is one source x format x quantization (x channels-last x interpolation when asked). Each
cell is an ordinary `edgepack build ... --json` in its own process, so it gets exactly the
validation, gates and exit codes of a hand-run build, and a crash or a leak in one cell cannot
take the others down: a cell that fails becomes a row with its reason. Each built file is then
timed by `edgepack bench` (one fresh process per thread count), and the *reference rows* (the
source in eager PyTorch + PIL, and ONNX Runtime + PIL when installed, `edgepack.reference`) are
timed the same way in the same run.

Resuming: every finished cell is recorded in `DIR/cells/NAME.json` with a key over everything that
shapes its result (the source's and the option files' bytes, the options, and the edgepack, torch,
timm and executorch versions); a rerun reuses a cell whose key matches and whose file is unchanged,
and a benchmark whose settings also match. An interrupted run therefore resumes where it stopped.

The recommendation (`recommend`): the fastest file whose accuracy drop against the float model
(or, without labelled --val images, its top-1 disagreement with the float model) is within
`max_accuracy_drop`; ties go to the smaller file. Desktop latency ranks files for this machine
only; with device results (the Android demo's benchmark JSON) the ranking uses the phone's p50.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

from .errors import EdgepackError, one_line

SCHEMA = "edgepack-matrix/1"
FORMATS = ("ptl", "pte")
QUANTIZATIONS = ("none", "dynamic", "static")
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
DEFAULT_MAX_ACCURACY_DROP = 0.01
DEFAULT_RUNS = 30
DEFAULT_WARMUP = 5
DEFAULT_BUILD_TIMEOUT_S = 1800.0
CLOSE_CALL = 0.05  # p50s this close are called a close call in the recommendation
# Per-source options a config file (or the command line, for every source) may give.
SOURCE_KEYS = ("weights", "arch", "num_classes", "model_class", "trust_checkpoint", "labels")
MACHINE_NOTE = ("Desktop latency ranks files for this machine only: int8 kernels differ by CPU (torch's qnnpack "
                "engine is slow on x86 and fast on ARM), so measure on the phone (the Android demo's benchmark) "
                "and pass its JSON with --device-results to rank for the device.")

Progress = Callable[[str], None]


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class SourceSpec:
    """One model to package: a SOURCE as `edgepack build` takes it, and its source options."""

    source: str
    weights: Optional[str] = None
    arch: Optional[str] = None
    num_classes: Optional[int] = None
    model_class: Optional[str] = None
    trust_checkpoint: bool = False
    labels: Optional[str] = None

    @property
    def stem(self) -> str:
        if self.source.startswith("timm:"):
            return self.source[len("timm:"):].replace("/", "_") or "timm"
        return pathlib.Path(self.source).stem.lstrip(".") or "model"

    def build_args(self) -> List[str]:
        args = [self.source]
        for key, flag in (("weights", "--weights"), ("arch", "--arch"), ("num_classes", "--num-classes"),
                          ("model_class", "--model-class"), ("labels", "--labels")):
            value = getattr(self, key)
            if value is not None:
                args += [flag, str(value)]
        if self.trust_checkpoint:
            args.append("--trust-checkpoint")
        return args

    def loader_options(self) -> dict:
        """Keyword arguments of `sources.load_source` (the reference rows load the same model)."""
        return {"weights": self.weights, "arch": self.arch, "num_classes": self.num_classes,
                "model_class": self.model_class, "trust_checkpoint": self.trust_checkpoint}


@dataclass
class MatrixOptions:
    """What to build and how to measure it; `edgepack matrix`'s options."""

    out_dir: str
    formats: Sequence[str] = FORMATS
    quantize: Optional[Sequence[str]] = None  # None: none, dynamic, and static when calib is given
    channels_last: Sequence[Optional[bool]] = (None,)  # None: the build's default
    interpolation: Sequence[Optional[str]] = (None,)  # None: the model's data config
    threads: Sequence[int] = (1,)
    calib: Optional[str] = None
    calib_count: int = 64
    val: Optional[str] = None
    val_count: int = 64
    max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP
    runs: int = DEFAULT_RUNS
    warmup: int = DEFAULT_WARMUP
    image: Sequence[int] = (640, 480)  # (W, H) of the benchmark frame, as `edgepack bench`
    references: bool = True
    device_results: Sequence[str] = ()
    rebuild: bool = False  # ignore recorded cells
    max_side: Optional[int] = None  # .pte cells: largest frame side (build's --max-side)
    task: str = "classification"  # or "embedding" (build's --task)
    build_timeout: float = DEFAULT_BUILD_TIMEOUT_S

    def quantizations(self) -> List[str]:
        if self.quantize is not None:
            return list(self.quantize)
        return ["none", "dynamic"] + (["static"] if self.calib else [])


@dataclass
class Cell:
    """One variant to build; `name` is its file name in the output folder (stem.variant.format)."""

    source: SourceSpec
    format: str
    quantize: str
    channels_last: Optional[bool] = None
    interpolation: Optional[str] = None
    name: str = ""

    def variant(self) -> str:
        parts = ["float" if self.quantize == "none" else f"int8-{self.quantize}"]
        if self.channels_last is not None:
            parts.append("cl" if self.channels_last else "nocl")
        if self.interpolation:
            parts.append(self.interpolation)
        return ".".join(parts)

    def build_args(self, opts: MatrixOptions, output: pathlib.Path) -> List[str]:
        args = self.source.build_args() + ["-o", str(output), "--force", "--json", "--format", self.format]
        if opts.task != "classification":
            args += ["--task", opts.task]
        if self.quantize != "none":
            args += ["--quantize", self.quantize]
        if self.quantize == "static":
            args += ["--calib", str(opts.calib), "--calib-count", str(opts.calib_count)]
        if opts.val:
            args += ["--val", str(opts.val), "--val-count", str(opts.val_count)]
        if self.channels_last is not None:
            args.append("--channels-last" if self.channels_last else "--no-channels-last")
        if self.interpolation:
            args += ["--interpolation", self.interpolation]
        if self.format == "pte" and opts.max_side is not None:
            args += ["--max-side", str(opts.max_side)]
        return args


# ----------------------------------------------------------------------------------------------
# Inputs: the grid, a config file, what a cell's result depends on
# ----------------------------------------------------------------------------------------------

def parse_list(value, allowed: Sequence[str], option: str) -> List[str]:
    """'ptl,pte' or ['ptl', 'pte'] -> ['ptl', 'pte'], each checked against `allowed`."""
    items = value if isinstance(value, (list, tuple)) else str(value).replace(" ", ",").split(",")
    out: List[str] = []
    for item in items:
        item = str(item).strip().lower()
        if not item:
            continue
        if item not in allowed:
            raise EdgepackError(f"{option}: '{item}' is not one of {', '.join(allowed)}")
        if item not in out:
            out.append(item)
    if not out:
        raise EdgepackError(f"{option}: give at least one of {', '.join(allowed)}")
    return out


def parse_switch(value, option: str) -> List[Optional[bool]]:
    """--channels-last 'on,off' -> [True, False]; 'default' keeps the build's default."""
    names = {"on": True, "off": False, "default": None}
    return [names[v] for v in parse_list(value, tuple(names), option)]


def _strings(v) -> bool:
    return isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))


def _count(minimum: int):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum


CONFIG_TYPES = {
    "task": (lambda v: v in ("classification", "embedding"), "classification or embedding"),
    "formats": (_strings, "a string or a list of strings"),
    "quantize": (_strings, "a string or a list of strings"),
    "channels_last": (_strings, "a string or a list of strings (on, off, default)"),
    "interpolation": (_strings, "a string or a list of strings"),
    "threads": (lambda v: _count(1)(v) or isinstance(v, str) or (isinstance(v, list) and all(_count(1)(x) for x in v)),
                "a thread count or a list of them"),
    "calib": (lambda v: isinstance(v, str), "a folder path"),
    "val": (lambda v: isinstance(v, str), "a folder path"),
    "calib_count": (_count(1), "an integer >= 1"),
    "val_count": (_count(1), "an integer >= 1"),
    "runs": (_count(1), "an integer >= 1"),
    "warmup": (_count(0), "an integer >= 0"),
    "max_accuracy_drop": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number 0..1"),
    "image": (lambda v: isinstance(v, str), "a frame size like \"640x480\""),
    "device_results": (_strings, "a path or a list of paths"),
}


def _config_value_ok(key: str, value) -> bool:
    return CONFIG_TYPES[key][0](value)


def load_config(path: str) -> dict:
    """A TOML batch file: `[[source]]` tables (path = SOURCE plus per-source options) and top-level
    matrix options (formats, quantize, threads, calib, val, ...). Unknown keys are errors, so a typo
    is not silently ignored. Relative paths are relative to the config file."""
    from .files import check_input_file

    check_input_file(path, "config file")
    try:
        with open(path, "rb") as f:
            doc = tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EdgepackError(f"{path}: not a valid TOML file ({exc})") from None
    base = pathlib.Path(path).resolve().parent
    top_keys = {"source", *CONFIG_TYPES}
    unknown = sorted(set(doc) - top_keys)
    if unknown:
        raise EdgepackError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(top_keys))})")

    def rel(value, key):
        if not isinstance(value, str) or not value:
            raise EdgepackError(f"{path}: {key} must be a non-empty string")
        if value.startswith("timm:") or os.path.isabs(value):
            return value
        return str(base / value)

    for key, value in doc.items():
        if key != "source" and not _config_value_ok(key, value):
            raise EdgepackError(f"{path}: {key} = {value!r}: expected {CONFIG_TYPES[key][1]}")
    sources = doc.pop("source", [])
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        raise EdgepackError(f"{path}: 'source' must be an array of tables ([[source]] with path = ...)")
    specs = []
    for i, table in enumerate(sources, 1):
        extra = sorted(set(table) - {"path", *SOURCE_KEYS})
        if extra:
            raise EdgepackError(f"{path}: source {i}: unknown key(s) {', '.join(extra)}")
        if "path" not in table:
            raise EdgepackError(f"{path}: source {i} has no path")
        kwargs = {}
        for key in SOURCE_KEYS:
            if key not in table:
                continue
            value = table[key]
            if key in ("weights", "labels"):
                value = rel(value, f"source {i}: {key}")
            elif key == "num_classes" and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise EdgepackError(f"{path}: source {i}: num_classes must be a positive integer")
            elif key == "trust_checkpoint" and not isinstance(value, bool):
                raise EdgepackError(f"{path}: source {i}: trust_checkpoint must be true or false")
            elif key in ("arch", "model_class") and not isinstance(value, str):
                raise EdgepackError(f"{path}: source {i}: {key} must be a string")
            kwargs[key] = value
        specs.append(SourceSpec(rel(table["path"], f"source {i}: path"), **kwargs))
    for key in ("calib", "val"):
        if key in doc:
            doc[key] = rel(doc[key], key)
    if "device_results" in doc:
        value = doc["device_results"]
        doc["device_results"] = [rel(v, "device_results") for v in (value if isinstance(value, list) else [value])]
    doc["sources"] = specs
    return doc


SEGMENTATION_REFUSED = ("{source}: is a segmentation model; edgepack matrix compares classifiers and embedding models "
                        "(its reference rows and accuracy columns are a classifier's); build each segmentation variant "
                        "with 'edgepack build' and time them with 'edgepack bench'")


def _is_segmentation_source(spec: SourceSpec) -> bool:
    """What can be told without building: torchvision:NAME, smp folders and --arch smp:..., and
    checkpoints whose hyper-parameters say task segmentation (read with the safe loader; a
    checkpoint it cannot read is left to the build, which reports it)."""
    path = pathlib.Path(spec.source)
    if spec.source.startswith("torchvision:") or (spec.arch or "").startswith("smp:"):
        return True
    if spec.source.startswith("timm:"):
        return False
    if path.is_dir():
        return (path / "config.json").is_file()
    if path.suffix != ".ckpt" or not path.is_file():
        return False
    from .checkpoints import load_checkpoint

    try:
        data = load_checkpoint(path, trust=bool(spec.trust_checkpoint)).data
    except Exception:  # noqa: BLE001 - refused or broken: the cell's build says why
        return False
    hp = data.get("hyper_parameters") if isinstance(data, dict) else None
    return isinstance(hp, dict) and hp.get("task") == "segmentation"


def check_sources(sources: Sequence[SourceSpec]) -> None:
    """Refuse up front what no cell could build: a missing source or option file."""
    from .files import check_input_file

    if not sources:
        raise EdgepackError("no sources: give SOURCE arguments or a --config file with [[source]] tables")
    for spec in sources:
        if _is_segmentation_source(spec):
            raise EdgepackError(SEGMENTATION_REFUSED.format(source=spec.source))
        if not spec.source.startswith("timm:"):
            check_input_file(spec.source, "model source")
        for what in ("weights", "labels"):
            if getattr(spec, what):
                check_input_file(getattr(spec, what), f"{what} file")


def unique_stems(sources: Sequence[SourceSpec]) -> List[str]:
    """File-name stems of the sources, in order; a repeated name (a/model.ckpt, b/model.ckpt)
    gets -2, -3, ..."""
    used: set = set()
    stems = []
    for spec in sources:
        stem, n = spec.stem, 1
        while stem in used:  # also past a source that is itself called model-2
            n += 1
            stem = f"{spec.stem}-{n}"
        used.add(stem)
        stems.append(stem)
    return stems


def plan(sources: Sequence[SourceSpec], opts: MatrixOptions) -> List[Cell]:
    """Every combination, in a stable order, with unique file names."""
    cells: List[Cell] = []
    for spec, stem in zip(sources, unique_stems(sources)):
        for fmt in opts.formats:
            for quant in opts.quantizations():
                for cl in opts.channels_last:
                    for interp in opts.interpolation:
                        cell = Cell(spec, fmt, quant, cl, interp)
                        cell.name = f"{stem}.{cell.variant()}.{fmt}"
                        cells.append(cell)
    return cells


def _digest_path(path: Optional[str]) -> Optional[str]:
    """sha256 of a file, or of a folder's images (relative names and contents: what the build
    reads, so a README or .DS_Store beside them does not invalidate every cell), for cache keys."""
    from .files import sha256_file
    from .validate import IMAGE_SUFFIXES

    if not path:
        return None
    p = pathlib.Path(path)
    try:
        if p.is_file():
            return sha256_file(p)
        if p.is_dir():
            h = hashlib.sha256()
            for f in sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in IMAGE_SUFFIXES):
                h.update(str(f.relative_to(p)).encode() + b"\0" + sha256_file(f).encode())
            return h.hexdigest()
    except OSError as exc:
        name = getattr(exc, "filename", None) or path
        raise EdgepackError(f"{name}: cannot read ({exc.strerror or exc})") from None
    return "missing"


def code_digest() -> str:
    """sha256 of edgepack's own source files: a cell built by other edgepack code (a fix, a dev
    checkout) is rebuilt even when the version string is the same."""
    h = hashlib.sha256()
    root = pathlib.Path(__file__).resolve().parent
    for f in sorted(root.rglob("*")):
        if f.is_file() and f.suffix in (".py", ".json"):
            h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    from .bench import cpu_description

    out = {"edgepack": __version__, "edgepack_code": code_digest()[:16], "python": platform.python_version(),
           "machine": f"{cpu_description()}; {platform.machine()}"}
    for dist in ("torch", "timm", "executorch", "onnxruntime"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    return out


def _key(doc: dict) -> str:
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def cell_key(cell: Cell, opts: MatrixOptions, digests: dict, vers: dict) -> str:
    """What a cell's build depends on. Paths are not in it (moving a folder keeps the cells); bytes are."""
    spec = cell.source
    return _key({
        "source": spec.source if spec.source.startswith("timm:") else digests.get(spec.source),
        "weights": digests.get(spec.weights), "labels": digests.get(spec.labels),
        "arch": spec.arch, "num_classes": spec.num_classes, "model_class": spec.model_class,
        "trust": spec.trust_checkpoint, "format": cell.format, "quantize": cell.quantize,
        "channels_last": cell.channels_last, "interpolation": cell.interpolation,
        "calib": digests.get(opts.calib) if cell.quantize == "static" else None,
        "calib_count": opts.calib_count if cell.quantize == "static" else None,
        "val": digests.get(opts.val), "val_count": opts.val_count, "task": opts.task,
        "max_side": opts.max_side if cell.format == "pte" else None,
        "versions": {k: vers.get(k) for k in ("edgepack", "edgepack_code", "torch", "timm")}
                    | ({"executorch": vers.get("executorch")} if cell.format == "pte" else {}),
    })


def bench_key(opts: MatrixOptions, threads: int, file_sha256: Optional[str], vers: dict) -> str:
    """What a file's benchmark depends on: the file, the settings, the runtime and the machine."""
    return _key({"file": file_sha256, "threads": threads, "runs": opts.runs, "warmup": opts.warmup,
                 "image": list(opts.image), "machine": vers.get("machine"),
                 "versions": {k: vers.get(k) for k in ("edgepack_code", "torch", "executorch")}})


# ----------------------------------------------------------------------------------------------
# Running the cells
# ----------------------------------------------------------------------------------------------

def judged_agreement(validation: dict) -> Optional[float]:
    """The agreement a build was gated on: classifiers' top-1 agreement with the float model
    (int8: judged on the --val images), embeddings' top-1 retrieval agreement."""
    for key in ("judged_top1_agreement", "top1_agreement", "retrieval_top1_agreement"):
        if validation.get(key) is not None:
            return validation[key]
    return None


def _last_json_document(stdout: str) -> dict:
    """The `--json` report: the object that starts at the last line reading `{` (anything a
    library printed to stdout before it is skipped)."""
    lines = stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.rstrip() == "{"]
    for start in reversed(starts):
        try:
            doc = json.loads("\n".join(lines[start:]))
        except json.JSONDecodeError:
            continue
        return doc if isinstance(doc, dict) else {}
    return {}


def _remove_stale(output: pathlib.Path) -> None:
    """A file left at a failed cell's name by an earlier run (other inputs) must not pass for this
    run's; something that is not a file there is left alone (the build refused to write over it)."""
    try:
        if output.is_file() and not output.is_symlink():
            output.unlink()
    except OSError:
        pass


def run_build(cell: Cell, opts: MatrixOptions, output: pathlib.Path) -> dict:
    """`edgepack build` for one cell in its own process; the row's build figures or its failure."""
    cmd = [sys.executable, "-m", "edgepack", "build", *cell.build_args(opts, output)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=opts.build_timeout)
    except subprocess.TimeoutExpired:
        _remove_stale(output)
        return {"status": "failed", "exit_code": None,
                "reason": f"build did not finish within {opts.build_timeout:.0f} s"}
    wall = time.perf_counter() - t0
    doc = _last_json_document(proc.stdout)
    if proc.returncode == 0 and "output" not in doc:  # never delete a file a build has published
        return {"status": "failed", "exit_code": 0, "reason": "the build succeeded but its --json report could "
                f"not be read; see {output.name} with 'edgepack inspect'"}
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("edgepack: error:")]
        reason = doc.get("error") or (errors[-1].split("error:", 1)[1].strip() if errors else None)
        kind = {1: "validation failed", 2: "refused", 3: "crashed (edgepack bug)"}.get(proc.returncode, "failed")
        _remove_stale(output)
        return {"status": "failed", "exit_code": proc.returncode,
                "reason": f"{kind}: {one_line(reason or f'exit status {proc.returncode}')[:300]}"}
    manifest = doc.get("manifest") or {}
    if manifest.get("task") == "segmentation":  # e.g. a --model-class module: caught only once built
        output.unlink(missing_ok=True)
        raise EdgepackError(SEGMENTATION_REFUSED.format(source=cell.source.source))
    val = manifest.get("validation") or {}
    agreement = judged_agreement(val)
    return {
        "status": "ok", "exit_code": 0, "reason": None,
        "file": output.name, "size_bytes": doc.get("size_bytes"), "sha256": doc.get("sha256"),
        "build_s": round(wall, 2), "build_stages_s": round(sum((doc.get("timings_s") or {}).values()), 2),
        "optimizer": (manifest.get("optimizer") or {}).get("path"),
        "validation": {
            "passed": val.get("passed"), "top1_agreement": agreement, "max_abs_err": val.get("max_abs_err"),
            "max_rel_err": val.get("max_rel_err"), "min_cosine": val.get("min_cosine"),
            "accuracy": val.get("accuracy"), "float_accuracy": val.get("float_accuracy"),
            "accuracy_drop": val.get("accuracy_drop"), "inputs": val.get("inputs"),
        },
        "preprocess": manifest.get("preprocess"),
        "activation": (manifest.get("output") or {}).get("activation"),
        "notes": doc.get("notes") or [],
    }


def _summary(result: dict) -> dict:
    keep = ("load_ms", "first_inference_ms", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "peak_rss_mb", "runs")
    return {k: result.get(k) for k in keep}


def run_bench(path: pathlib.Path, threads: int, opts: MatrixOptions) -> dict:
    from .bench import bench_file

    try:
        return {"status": "ok", **_summary(bench_file(path, threads=threads, runs=opts.runs, warmup=opts.warmup,
                                                      image=tuple(opts.image)))}
    except EdgepackError as exc:
        return {"status": "failed", "reason": one_line(str(exc))[:300]}


def run_reference(kind: str, spec: SourceSpec, stem: str, build: dict, threads: int, opts: MatrixOptions,
                  work: pathlib.Path, export: bool = True, digest=None) -> dict:
    """Time one reference row (eager+PIL or ORT+PIL) of `spec` with the built file's preprocessing."""
    from .bench import child_env, summarize
    from .reference import run_reference_child

    child = {"source": spec.source, "source_options": spec.loader_options(), "preprocess": build["preprocess"],
             "activation": build.get("activation"), "threads": threads, "runs": opts.runs,
             "warmup": opts.warmup, "image": list(opts.image)}
    env = child_env(1, "passive") if kind == "eager" else None  # as `edgepack bench` runs torch
    out: dict = {}
    try:
        if kind == "ort":
            # Named by the model's bytes too: an .onnx left by another source of this name, or by
            # an older version of this one, is never measured in its place.
            model_id = hashlib.sha256(json.dumps([child["source_options"], digest], sort_keys=True,
                                                 default=str).encode()).hexdigest()[:12]
            child["onnx"] = str(work / f"{stem}.reference.{model_id}.onnx")
            if export or not os.path.exists(child["onnx"]):
                run_reference_child("export-onnx", child)
            out["size_bytes"] = os.path.getsize(child["onnx"])
        raw = run_reference_child(kind, child, env)
    except EdgepackError as exc:
        return {"status": "failed", "reason": one_line(str(exc))[:300]}
    stats = summarize(raw)
    return {"status": "ok", **out, "load_ms": round(raw["load_ms"], 3),
            "first_inference_ms": round(raw["first_inference_ms"], 3), **stats,
            "peak_rss_mb": round(raw["peak_rss_mb"], 1) if raw.get("peak_rss_mb") else None, "runs": opts.runs,
            "runtime": raw.get("runtime")}


def _number_or_none(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == value)


def _valid_result(result) -> bool:
    """A recorded benchmark (or reference) result the report can render."""
    return isinstance(result, dict) and result.get("status") == "ok" and all(
        _number_or_none(result.get(k)) for k in ("load_ms", "first_inference_ms", "p50_ms", "p90_ms", "p99_ms",
                                                 "mean_ms", "peak_rss_mb", "runs", "size_bytes")) \
        and isinstance(result.get("p50_ms"), (int, float))


def _valid_build(build) -> bool:
    if not isinstance(build, dict) or build.get("status") not in ("ok", "failed"):
        return False
    if build["status"] == "failed":
        return isinstance(build.get("reason"), str)
    val = build.get("validation")
    return (isinstance(build.get("file"), str) and isinstance(build.get("sha256"), str)
            and isinstance(build.get("size_bytes"), int) and _number_or_none(build.get("build_s"))
            and isinstance(val, dict) and all(_number_or_none(v) for k, v in val.items()
                                              if k not in ("passed", "inputs"))
            and isinstance(build.get("preprocess"), (dict, type(None))))


def _read_record(path: pathlib.Path) -> Optional[dict]:
    """A cell's record, or None when it is missing, damaged (an interrupted write) or edited into
    something the report cannot use: the cell is then built and measured again."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    if "build" in doc:  # a cell
        bench = doc.get("bench")
        if not (isinstance(doc.get("key"), str) and _valid_build(doc["build"]) and isinstance(bench, dict)
                and all(isinstance(v, dict) and isinstance(v.get("key"), str) and _valid_result(v.get("result"))
                        for v in bench.values())):
            return None
        return doc
    # a reference row: {threads: {key, result}}
    if all(isinstance(v, dict) and isinstance(v.get("key"), str) and _valid_result(v.get("result"))
           for v in doc.values()):
        return doc
    return None


def _write_record(path: pathlib.Path, doc: dict) -> None:
    from .files import write_text_atomic

    write_text_atomic(path, json.dumps(doc, indent=1, sort_keys=True))


def _file_sha(path: pathlib.Path) -> Optional[str]:
    from .files import sha256_file

    try:
        return sha256_file(path) if path.is_file() else None
    except OSError:  # unreadable: not the recorded file, so the cell is built again (and says why)
        return None


# ----------------------------------------------------------------------------------------------
# Device results and the recommendation
# ----------------------------------------------------------------------------------------------

def load_device_results(paths: Sequence[str]) -> List[dict]:
    """Benchmark records from the Android demo (its `BENCH_JSON {...}` logcat lines, files/bench.json
    or shared text) or `edgepack bench --json` from an edge box; each needs `p50_ms` and a `model`
    (file name) or `model_sha256` to match a cell."""
    from .files import check_input_file

    records: List[dict] = []
    for path in paths:
        check_input_file(path, "device results file")
        try:
            text = pathlib.Path(path).read_text()
        except UnicodeDecodeError:
            raise EdgepackError(f"{path}: not a text file of benchmark JSON") from None
        found: List = []
        lines = [line.split("BENCH_JSON", 1)[1].strip() for line in text.splitlines() if "BENCH_JSON" in line]
        try:
            for chunk in (lines or [text]):
                doc = json.loads(chunk)
                found.extend(doc if isinstance(doc, list) else [doc])
        except json.JSONDecodeError as exc:
            raise EdgepackError(f"{path}: not benchmark JSON ({exc.msg} at line {exc.lineno})") from None
        for i, rec in enumerate(found, 1):
            records.append(_device_record(rec, f"{path}: record {i}", str(path)))
    return records


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _device_record(rec, where: str, results_file: str) -> dict:
    """One device result, checked and reduced to the fields the report uses (the file is
    untrusted: a string where a number belongs must be an error here, not a crash later)."""
    if not isinstance(rec, dict):
        raise EdgepackError(f"{where} is not a JSON object")
    if not (_finite(rec.get("p50_ms")) and rec["p50_ms"] > 0):
        raise EdgepackError(f"{where} has no positive p50_ms (not an edgepack bench / Android demo result)")
    model, sha = rec.get("model"), rec.get("model_sha256")
    if not isinstance(model, str) and not isinstance(sha, str):
        raise EdgepackError(f"{where} names no model (model or model_sha256)")
    threads = rec.get("threads")
    if threads is not None and not (isinstance(threads, int) and not isinstance(threads, bool) and threads >= 1):
        raise EdgepackError(f"{where}: threads must be a positive integer, got {threads!r}")
    out = {"p50_ms": float(rec["p50_ms"]), "threads": threads, "results_file": results_file,
           "model": model if isinstance(model, str) else None, "model_sha256": sha if isinstance(sha, str) else None}
    for key in ("p90_ms", "load_ms", "first_inference_ms"):
        out[key] = float(rec[key]) if _finite(rec.get(key)) else None
    for key in ("device", "runtime"):
        out[key] = rec[key][:120] if isinstance(rec.get(key), str) else None
    return out


def match_device(row: dict, records: Sequence[dict]) -> Optional[dict]:
    """The device record of a built file: same sha256, else (records without a sha256 only) same
    file name; the fewest threads. A record whose sha256 is another file's (an older build of
    this name) never ranks this one."""
    hits = [r for r in records if row.get("sha256") and r.get("model_sha256") == row["sha256"]]
    hits = hits or [r for r in records if r.get("model_sha256") is None and r.get("model") == row.get("file")]
    if not hits:
        return None
    best = min(hits, key=lambda r: (r.get("threads") or 0, r["p50_ms"]))
    return {k: best.get(k) for k in ("p50_ms", "p90_ms", "load_ms", "first_inference_ms", "threads", "device",
                                     "runtime", "results_file")}


def quality(row: dict) -> tuple:
    """(metric name, value) the gate judges: accuracy drop with labels, else top-1 disagreement."""
    val = row.get("validation") or {}
    if val.get("accuracy_drop") is not None:
        return "accuracy_drop", float(val["accuracy_drop"])
    if val.get("top1_agreement") is not None:
        return "disagreement", round(1.0 - float(val["top1_agreement"]), 5)
    return "unknown", None


def latency(row: dict, threads: int, use_device: bool) -> Optional[float]:
    if use_device:
        return (row.get("device") or {}).get("p50_ms")
    bench = (row.get("bench") or {}).get(str(threads)) or {}
    return bench.get("p50_ms") if bench.get("status") == "ok" else None


def recommend(rows: Sequence[dict], max_drop: float, threads: int, use_device: bool) -> dict:
    """Which file to ship, the runner-up, and why every other row lost."""
    where = "on the device (--device-results)" if use_device else f"on this machine at {threads} thread(s)"
    eligible, lost = [], {}
    for row in rows:
        metric, value = quality(row)
        ms = latency(row, threads, use_device)
        if row["status"] != "ok":
            lost[row["name"]] = row["reason"]
        elif value is None:
            lost[row["name"]] = "no validation figures"
        elif value > max_drop + 1e-12:
            lost[row["name"]] = f"{metric.replace('_', ' ')} {value:.2%} > {max_drop:.2%} (--max-accuracy-drop)"
        elif ms is None:
            lost[row["name"]] = ("no device result for this file" if use_device
                                 else "not benchmarked: " + str(((row.get("bench") or {}).get(str(threads)) or {})
                                                                 .get("reason", "no result")))
        else:
            eligible.append((ms, row.get("size_bytes") or 0, row["name"], row))
    eligible.sort(key=lambda e: (e[0], e[1], e[2]))
    if not eligible:
        return {"choice": None, "runner_up": None, "ranked_by": f"p50 latency {where}", "max_accuracy_drop": max_drop,
                "why": f"no file stays within --max-accuracy-drop {max_drop:.2%} with a latency {where}",
                "lost": lost}
    best_ms, best_size, best, best_row = eligible[0]
    metric, value = quality(best_row)
    for ms, size, name, _ in eligible[1:]:
        lost[name] = (f"slower: p50 {ms:.2f} ms vs {best_ms:.2f} ms" if ms > best_ms
                      else f"as fast, larger file ({size / 1e6:.2f} MB vs {best_size / 1e6:.2f} MB)")
    runner = eligible[1][2] if len(eligible) > 1 else None
    why = (f"fastest file {where} (p50 {best_ms:.2f} ms) with {metric.replace('_', ' ')} {value:.2%} "
           f"<= {max_drop:.2%}")
    if runner:
        why += f"; runner-up {runner} (p50 {eligible[1][0]:.2f} ms)"
        if eligible[1][0] <= best_ms * (1 + CLOSE_CALL):
            why += (f"; within {CLOSE_CALL:.0%} of each other: run both again on the device before choosing"
                    if use_device else f"; within {CLOSE_CALL:.0%} of each other, which one run on a desktop does "
                    "not separate: compare them on the device")
    return {"choice": best, "file": best_row.get("file"), "runner_up": runner, "p50_ms": best_ms,
            "ranked_by": f"p50 latency {where}", "max_accuracy_drop": max_drop, "why": why, "lost": lost}


# ----------------------------------------------------------------------------------------------
# The whole run
# ----------------------------------------------------------------------------------------------

def machine(vers: dict) -> dict:
    from .bench import cpu_description

    return {"cpu": cpu_description(), "platform": platform.platform(), "note": MACHINE_NOTE, **vers}


def check_options(opts: MatrixOptions) -> None:
    quants = opts.quantizations()
    if "static" in quants and not opts.calib:
        raise EdgepackError("--quantize static needs --calib IMAGES (calibration images)")
    for what in ("calib", "val"):
        folder = getattr(opts, what)
        if folder is not None and not pathlib.Path(folder).is_dir():
            raise EdgepackError(f"--{what} {folder}: not a folder of images")
    if not 0.0 <= opts.max_accuracy_drop <= 1.0:
        raise EdgepackError(f"--max-accuracy-drop {opts.max_accuracy_drop}: expected 0..1 (0.01 = 1%)")
    out = pathlib.Path(opts.out_dir)
    if out.exists() and not out.is_dir():
        raise EdgepackError(f"-o {out}: exists and is not a folder")
    for what in ("calib", "val"):  # the report's files would become images there
        folder = getattr(opts, what)
        if folder is not None and (out.resolve() == pathlib.Path(folder).resolve()
                                   or pathlib.Path(folder).resolve() in out.resolve().parents):
            raise EdgepackError(f"-o {out} is inside --{what} {folder}: its plot.png would be read as an image; "
                                "choose another folder")
    if opts.max_side is not None and opts.max_side < 16:
        raise EdgepackError(f"--max-side {opts.max_side}: expected at least 16")


def run_matrix(sources: Sequence[SourceSpec], opts: MatrixOptions, progress: Progress = _stderr) -> dict:
    """Build, validate and measure every cell (files and cell records in `opts.out_dir`); return the
    report, the document that `matrix_report.write_reports` saves as report.json/report.md/plot.png."""
    check_sources(sources)
    check_options(opts)
    devices = load_device_results(opts.device_results)
    out = pathlib.Path(opts.out_dir)
    try:
        (out / "cells").mkdir(parents=True, exist_ok=True)
        probe = out / f".edgepack-matrix.{os.getpid()}.probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise EdgepackError(f"-o {out}: cannot write there ({exc.strerror or exc})") from None
    cells = plan(sources, opts)
    vers = versions()
    digests = {p: _digest_path(p) for spec in sources for p in (spec.source, spec.weights, spec.labels)
               if p and not p.startswith("timm:")}
    digests.update({p: _digest_path(p) for p in (opts.calib, opts.val) if p})
    total = len(cells)
    rows = []
    started = time.perf_counter()
    for i, cell in enumerate(cells, 1):
        rows.append(_run_cell(cell, opts, out, cell_key(cell, opts, digests, vers), vers, f"[{i}/{total}]", progress))
    references = []
    if opts.references:
        references = _run_references(sources, cells, rows, opts, out, vers, digests, progress)
    for row in rows:
        if devices and row["status"] == "ok":
            row["device"] = match_device(row, devices)
    primary = int(opts.threads[0])
    report = {
        "schema": SCHEMA,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(vers),
        "settings": {"task": opts.task, "formats": list(opts.formats), "quantize": opts.quantizations(),
                     "channels_last": list(opts.channels_last), "interpolation": list(opts.interpolation),
                     "threads": [int(t) for t in opts.threads], "runs": opts.runs, "warmup": opts.warmup,
                     "image": list(opts.image), "calib": bool(opts.calib), "val": bool(opts.val),
                     "max_accuracy_drop": opts.max_accuracy_drop, "device_results": [str(p) for p in opts.device_results],
                     "sources": [dataclasses.asdict(s) for s in sources]},
        "cells": rows,
        "references": references,
        "recommendation": recommend(rows, opts.max_accuracy_drop, primary, use_device=bool(devices)),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    return report


# What a row shows of a (possibly recorded, so untrusted) build result.
BUILD_FIELDS = ("status", "exit_code", "reason", "file", "size_bytes", "sha256", "build_s", "build_stages_s",
                "optimizer", "validation", "preprocess", "activation", "notes")


def _run_cell(cell: Cell, opts: MatrixOptions, out: pathlib.Path, key: str, vers: dict, tag: str,
              progress: Progress) -> dict:
    path = out / cell.name
    record_path = out / "cells" / f"{cell.name}.json"
    record = None if opts.rebuild else _read_record(record_path)
    base = {"name": cell.name, "source": cell.source.source, "format": cell.format, "quantize": cell.quantize,
            "channels_last": cell.channels_last, "interpolation": cell.interpolation, "key": key}
    # Reused: a built cell whose file is still the one recorded, or a cell that failed validation
    # (deterministic and costly to redo). Refusals and crashes are retried: their cause may be
    # outside the inputs (a full disk, a killed process).
    old_build = (record or {}).get("build") or {}
    reuse = bool(record and record.get("key") == key and (
        (old_build.get("status") == "ok" and old_build.get("sha256") == _file_sha(path))
        or (old_build.get("status") == "failed" and old_build.get("exit_code") == 1)))
    if reuse:
        build = record["build"]
        progress(f"{tag} {cell.name}: reused ({build['status']})")
    else:
        progress(f"{tag} {cell.name}: building ...")
        build = run_build(cell, opts, path)
        record = {"key": key, "build": build, "bench": {}}
        _write_record(record_path, record)
        progress(f"{tag} {cell.name}: " + (f"built {build['size_bytes'] / 1e6:.2f} MB in {build['build_s']:.0f} s"
                                           if build["status"] == "ok" else build["reason"]))
    row = {**{k: build.get(k) for k in BUILD_FIELDS}, **base, "reused": reuse, "bench": {}}
    if build["status"] != "ok":
        return row
    for threads in opts.threads:
        bkey = bench_key(opts, int(threads), build.get("sha256"), vers)
        old = (record.get("bench") or {}).get(str(threads))
        if not opts.rebuild and old and old.get("key") == bkey:
            row["bench"][str(threads)] = dict(old["result"], reused=True)
            continue
        progress(f"{tag} {cell.name}: benchmarking at {threads} thread(s) ...")
        result = run_bench(path, int(threads), opts)
        row["bench"][str(threads)] = dict(result, reused=False)
        if result["status"] == "ok":  # a failed benchmark is retried on the next run
            record.setdefault("bench", {})[str(threads)] = {"key": bkey, "result": result}
            _write_record(record_path, record)
        progress(f"{tag} {cell.name}: " + (f"p50 {result['p50_ms']:.2f} ms at {threads} thread(s)"
                                           if result["status"] == "ok" else result["reason"]))
    return row


def _run_references(sources, cells, rows, opts, out, vers, digests, progress) -> List[dict]:
    """Per source: eager PyTorch + PIL, and ONNX Runtime + PIL when installed, with the
    preprocessing of a file built from that source (a float one with the model's own resize filter
    when there is one). Their accuracy is not measured: they run the float model, whose accuracy
    the builds report as float_accuracy, with PIL's resize instead of the bundled one."""
    from .reference import ort_available

    if opts.task != "classification":  # the reference pipelines end in softmax: classifiers only
        progress(f"[ref] no reference rows for --task {opts.task} (they time classifier pipelines)")
        return []
    kinds = ["eager"] + (["ort"] if ort_available() else [])
    refs = []
    for spec, stem in zip(sources, unique_stems(sources)):
        mine = [(c, r) for c, r in zip(cells, rows) if c.source == spec and r["status"] == "ok"
                and isinstance(r.get("preprocess"), dict)]
        mine.sort(key=lambda cr: (cr[0].quantize != "none", cr[0].interpolation is not None))
        built = mine[0][1] if mine else None
        for kind in kinds:
            name = f"{stem}.reference-{kind}"
            row = {"name": name, "source": spec.source, "kind": kind,
                   "format": {"eager": "eager+PIL", "ort": "onnxruntime+PIL"}[kind], "bench": {}}
            if built is None:
                row.update(status="failed", reason="no file of this source was built to take its preprocessing from")
                refs.append(row)
                continue
            row["validation"] = {}
            record_path = out / "cells" / f"{name}.json"
            record = (None if opts.rebuild else _read_record(record_path)) or {}
            ok = False
            for threads in opts.threads:
                key = _key({"source": digests.get(spec.source, spec.source), "weights": digests.get(spec.weights),
                            "opts": spec.loader_options() | {"weights": None}, "preprocess": built["preprocess"],
                            "kind": kind, "threads": int(threads), "runs": opts.runs, "warmup": opts.warmup,
                            "image": list(opts.image), "versions": vers})
                old = record.get(str(threads))
                if old and old.get("key") == key:
                    row["bench"][str(threads)] = dict(old["result"], reused=True)
                    ok = True
                    continue
                progress(f"[ref] {name}: measuring at {threads} thread(s) ...")
                result = run_reference(kind, spec, stem, built, int(threads), opts, out, export=not ok,
                                       digest=[digests.get(spec.source, spec.source), digests.get(spec.weights)])
                row["bench"][str(threads)] = dict(result, reused=False)
                if result["status"] == "ok":
                    ok = True
                    record[str(threads)] = {"key": key, "result": result}
                    _write_record(record_path, record)
                progress(f"[ref] {name}: " + (f"p50 {result['p50_ms']:.2f} ms" if result["status"] == "ok"
                                              else result["reason"]))
            size = next((b.get("size_bytes") for b in row["bench"].values() if b.get("size_bytes")), None)
            row.update(status="ok" if ok else "failed", size_bytes=size,
                       reason=None if ok else next(iter(row["bench"].values()), {}).get("reason"))
            refs.append(row)
    return refs
