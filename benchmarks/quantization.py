#!/usr/bin/env python
"""Float vs dynamic int8 vs static int8 `.ptl`, on a small ViT and a small CNN trained on the example data.

    python benchmarks/quantization.py            # full run (several minutes on 2 idle cores; the ViT's
                                                 # training is capped by --train-minutes), writes
                                                 # benchmarks/results/quantization.{md,json}
    python benchmarks/quantization.py --quick    # smoke run (tiny data, tiny training, few runs),
                                                 # writes benchmarks/.cache/quick/quantization_quick.{md,json}

Data: the shapes data set of `examples/shapes.py` in ImageFolder layout (train seed 0, val seed 1, as
`examples/train_shapes.py` makes it); `examples/data/shapes` is reused when it is complete,
otherwise the same images are generated into benchmarks/.cache/.

Models, both `edgepack.ImageClassifier` checkpoints at 64 px:

  cnn  the bundled example `examples/shapes_regnet.ckpt` (regnetx_002; `examples/train_shapes.py`).
       --quick trains a tiny stand-in when it is missing; the full run refuses to go without it.
  vit  `deit_tiny_patch16_224` with `img_size=64` (16 patches + a class token), trained here with
       Lightning for a few epochs (cached in benchmarks/.cache/ with its settings; --retrain).

For each model it builds, with `edgepack.build`, a float `.ptl` and dynamic- and static-int8 `.ptl`
files for `--target mobile` (qnnpack, the phone's engine) and `--target x86`, static ones
calibrated on a per-class subset of the train folder, each validated by the build on its synthetic
frames + `--val` images. `min_agreement` is set to ~0 so that every build reports instead of
failing; whether it would pass the default 98% is recorded. Then, per file:

  size      bytes on disk, and as a share of the model's float file;
  latency   `edgepack.bench.bench_file` (the `edgepack bench` machinery): one fresh process per
            file, frame and repetition, 1 thread, OpenMP held at 1 thread, OMP_WAIT_POLICY=PASSIVE,
            the quantized engine the file was built for; a uint8 frame of the sizes in --frames;
  quality   top-1 agreement with the float file and accuracy, on the whole val folder, run in the
            lite interpreter (plus the build's own validation figures);
  coverage  the quantization report of the build (compute_fraction, params_fraction, warnings).

Results go to --out with the machine description, the load on it and this exact command.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shlex
import shutil
import statistics
import sys
import time
import warnings
from typing import Dict, List, Optional

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(HERE))

from run_benchmarks import load_average, machine, other_busy_processes  # noqa: E402

DEFAULT_CNN = ROOT / "examples" / "shapes_regnet.ckpt"
IMAGE_SIZE = 64
# (variant id, quantize, target)
VARIANTS = [
    ("float", None, None),
    ("dynamic-mobile", "dynamic", "mobile"),
    ("dynamic-x86", "dynamic", "x86"),
    ("static-mobile", "static", "mobile"),
    ("static-x86", "static", "x86"),
]
ENGINES = {"mobile": "qnnpack", "x86": "x86"}
# The targets (reported against, not asserted): file and latency as a share of the float
# file of the same model, top-1 agreement with the float model.
GOALS = [
    {"id": "vit-dynamic", "model": "vit", "mode": "dynamic", "size_max": 0.55, "latency_max": 0.8,
     "agreement_min": 0.98, "what": "dynamic int8 on a ViT"},
    {"id": "cnn-static", "model": "cnn", "mode": "static", "size_max": 0.35, "latency_max": 0.5,
     "agreement_min": 0.98, "what": "static int8 on a ResNet/MobileNet-style CNN"},
]
DEFAULT_AGREEMENT = 0.98


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def parse_frames(value: str) -> List[List[int]]:
    frames = []
    for part in value.split(","):
        w, h = (int(v) for v in part.lower().strip().split("x"))
        frames.append([w, h])
    return frames


def frame_name(frame) -> str:
    return f"{frame[0]}x{frame[1]}"


def rel(path) -> str:
    """Path relative to the repository (results must not carry user names / absolute paths)."""
    try:
        return str(pathlib.Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return pathlib.Path(path).name


def ensure_cache() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():  # keep everything in the cache out of git (as .pytest_cache does)
        ignore.write_text("# created by benchmarks/quantization.py\n*\n")


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

def count_images(folder: pathlib.Path) -> int:
    from edgepack.validate import IMAGE_SUFFIXES

    return sum(1 for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else 0


def complete_folder(folder: pathlib.Path, classes) -> bool:
    """An ImageFolder tree with every class present and the same, non-zero count in each (what
    examples/shapes.py writes; a generation still in progress fails this most of the time)."""
    counts = {c: count_images(folder / c) for c in classes}
    return len(set(counts.values())) == 1 and min(counts.values()) > 0


def prepare_data(args, work: pathlib.Path) -> dict:
    """train/val/calib folders; generated with examples/shapes.py when not reusable."""
    import shapes

    n_cls = len(shapes.CLASSES)
    want_train, want_val = args.train_per_class * n_cls, args.val_per_class * n_cls
    example = ROOT / "examples" / "data" / "shapes"
    generate = False
    if args.data:
        root = pathlib.Path(args.data)
        origin = f"--data {rel(root)}"
    elif not args.quick and complete_folder(example / "train", shapes.CLASSES) and complete_folder(
            example / "val", shapes.CLASSES):
        root, origin = example, "examples/data/shapes (written by examples/train_shapes.py)"
    else:
        root = work / "data" / f"shapes_{args.train_per_class}_{args.val_per_class}"
        origin = f"generated by examples/shapes.py into {rel(root)}"
        generate = True
    train, val = root / "train", root / "val"
    if generate and (count_images(train) != want_train or count_images(val) != want_val):
        log(f"generating data: {args.train_per_class}/class train (seed 0), {args.val_per_class}/class val (seed 1) "
            f"into {rel(root)} ...")
        shutil.rmtree(root, ignore_errors=True)
        shapes.generate(train, args.train_per_class, seed=0)
        shapes.generate(val, args.val_per_class, seed=1)
    for d in (train, val):
        if count_images(d) == 0:
            raise SystemExit(f"quantization.py: {rel(d)} holds no images")
    # Calibration folder: the first --calib-per-class images of each class of the train folder.
    calib = work / "calib" / f"{root.name}_{args.calib_per_class}"
    shutil.rmtree(calib, ignore_errors=True)
    for cls_dir in sorted(p for p in train.iterdir() if p.is_dir()):
        (calib / cls_dir.name).mkdir(parents=True, exist_ok=True)
        for f in sorted(cls_dir.iterdir())[: args.calib_per_class]:
            shutil.copyfile(f, calib / cls_dir.name / f.name)
    return {"root": root, "train": train, "val": val, "calib": calib, "origin": origin,
            "train_images": count_images(train), "val_images": count_images(val), "calib_images": count_images(calib),
            "classes": sorted(p.name for p in train.iterdir() if p.is_dir())}


# ----------------------------------------------------------------------------------------------
# Training (the ViT; the CNN stand-in in --quick)
# ----------------------------------------------------------------------------------------------

def train_classifier(backbone: str, backbone_kwargs: dict, data: dict, out: pathlib.Path, epochs: int, lr: float,
                     threads: int, max_minutes: float, seed: int = 0) -> dict:
    """Train an edgepack ImageClassifier on the train folder; save a weights-only checkpoint to `out`.

    The train images go through the eval transform once and are kept as tensors (plus a random
    horizontal flip per batch), so an epoch is compute only.
    """
    import pytorch_lightning as pl
    import timm
    import torch
    from torch.utils.data import DataLoader, Dataset
    from torchvision import datasets

    from edgepack import ImageClassifier
    from edgepack.models import default_data_config

    pl.seed_everything(seed, workers=True)
    torch.set_num_threads(threads)
    classes = data["classes"]
    model = ImageClassifier(backbone=backbone, num_classes=len(classes), labels=classes,
                            data_config=default_data_config(backbone, IMAGE_SIZE), lr=lr,
                            backbone_kwargs=backbone_kwargs)
    eval_tf = timm.data.create_transform(**model.hparams.data_config, is_training=False)

    def preload(folder):
        ds = datasets.ImageFolder(folder, eval_tf)
        if ds.classes != classes:
            raise SystemExit(f"quantization.py: {rel(folder)} classes {ds.classes} != {classes}")
        xs, ys = zip(*[ds[i] for i in range(len(ds))])
        return torch.stack(xs), torch.tensor(ys)

    t0 = time.perf_counter()
    xtr, ytr = preload(data["train"])
    xva, yva = preload(data["val"])
    load_s = time.perf_counter() - t0

    class Flip(Dataset):
        def __init__(self, x, y, flip):
            self.x, self.y, self.flip = x, y, flip

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            x = self.x[i]
            if self.flip and torch.rand(()) < 0.5:
                x = x.flip(-1)
            return x, self.y[i]

    train = DataLoader(Flip(xtr, ytr, True), batch_size=32, shuffle=True, num_workers=0)
    val = DataLoader(Flip(xva, yva, False), batch_size=128, num_workers=0)
    trainer = pl.Trainer(max_epochs=epochs, max_time={"minutes": max_minutes}, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         deterministic=True, num_sanity_val_steps=0, check_val_every_n_epoch=max(1, epochs))
    t0 = time.perf_counter()
    try:
        trainer.fit(model, train, val)
        train_s = time.perf_counter() - t0
        metrics = trainer.validate(model, val, verbose=False)[0]
    finally:
        # Lightning's deterministic=True turns on torch.use_deterministic_algorithms for the whole
        # process and leaves it on; the x86 quantized builds below would then fail (FX-quantized
        # graphs call quantized_resize_cpu_, which has no deterministic implementation).
        torch.use_deterministic_algorithms(False)
    out.parent.mkdir(parents=True, exist_ok=True)
    trainer.save_checkpoint(str(out), weights_only=True)
    info = {"backbone": backbone, "backbone_kwargs": backbone_kwargs, "image_size": IMAGE_SIZE,
            "epochs_planned": epochs, "epochs_done": int(trainer.current_epoch), "lr": lr, "batch_size": 32,
            "train_threads": threads, "max_minutes": max_minutes,
            "train_images": len(ytr), "val_images": len(yva), "seed": seed,
            "params": sum(p.numel() for p in model.parameters()),
            "val_acc_lightning": round(float(metrics["val_acc"]), 4),
            "val_loss_lightning": round(float(metrics["val_loss"]), 4),
            "preload_s": round(load_s, 1), "train_s": round(train_s, 1), "torch_version": torch.__version__}
    log(f"  trained {backbone}: {info['epochs_done']} epoch(s) in {train_s:.0f} s, val_acc {info['val_acc_lightning']:.3f}")
    return info


def get_model(name: str, args, data: dict, work: pathlib.Path) -> dict:
    """{'ckpt': path, 'info': ...} for 'cnn' or 'vit' (trained or reused from the cache)."""
    if name == "cnn" and not (args.quick and not pathlib.Path(args.cnn).exists()):
        ckpt = pathlib.Path(args.cnn)
        if not ckpt.exists():
            raise SystemExit(f"quantization.py: {rel(ckpt)} is missing; train it first with "
                             "`python examples/train_shapes.py --out examples/shapes_regnet.ckpt` "
                             "(or pass --cnn CKPT)")
        import torch

        hp = torch.load(str(ckpt), map_location="cpu", weights_only=True).get("hyper_parameters", {})
        return {"ckpt": ckpt, "info": {"source": rel(ckpt), "backbone": hp.get("backbone"),
                                       "input_size": (hp.get("data_config") or {}).get("input_size"),
                                       "trained_by": "examples/train_shapes.py (bundled example)"}}
    if name == "cnn":
        backbone, kwargs, epochs, lr = "regnetx_002", {}, args.cnn_epochs, 1e-3
        trained_by = "this script, --quick stand-in (examples/shapes_regnet.ckpt was missing)"
    else:
        backbone, kwargs, epochs, lr = args.vit_backbone, {"img_size": IMAGE_SIZE}, args.vit_epochs, args.vit_lr
        trained_by = "this script"
    key = {"backbone": backbone, "backbone_kwargs": kwargs, "epochs_planned": epochs, "lr": lr,
           "train_images": data["train_images"], "val_images": data["val_images"], "data": str(rel(data["root"])),
           "max_minutes": args.train_minutes}
    ckpt = work / "models" / f"{name}_{backbone}_{IMAGE_SIZE}px_e{epochs}_n{data['train_images']}.ckpt"
    meta = ckpt.with_suffix(".json")
    if not args.retrain and ckpt.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if all(info.get(k) == v for k, v in key.items()):
            log(f"  reusing {rel(ckpt)} (trained earlier with the same settings; --retrain to redo)")
            info["reused_from_cache"] = True
            return {"ckpt": ckpt, "info": dict(info, source=rel(ckpt), trained_by=trained_by)}
    log(f"  training {name} ({backbone}, {epochs} epoch(s) max, {args.train_minutes} min max) ...")
    info = train_classifier(backbone, kwargs, data, ckpt, epochs, lr, args.train_threads, args.train_minutes)
    info.update(key)
    meta.write_text(json.dumps(info, indent=1, sort_keys=True))
    return {"ckpt": ckpt, "info": dict(info, source=rel(ckpt), trained_by=trained_by, reused_from_cache=False)}


# ----------------------------------------------------------------------------------------------
# Builds
# ----------------------------------------------------------------------------------------------

def build_variant(model: str, ckpt: pathlib.Path, variant: str, quantize: Optional[str], target: Optional[str],
                  data: dict, out_dir: pathlib.Path, args) -> dict:
    from edgepack import BuildOptions, build

    out = out_dir / f"{model}.{variant}.ptl"
    opts = dict(output=str(out), force=True, val=str(data["val"]), val_count=args.val_count)
    if quantize:
        # Report instead of failing: BuildOptions rejects min_agreement 0 ("must be in (0, 1]"), so
        # ~0. The optimiser's own check (cosine >= 0.99 against the quantized eager model) stays on.
        opts.update(quantize=quantize, target=target, min_agreement=1e-6)
        if quantize == "static":
            opts.update(calib=str(data["calib"]), calib_count=data["calib_images"])
    lines: List[str] = []
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = build(str(ckpt), BuildOptions(**opts), report=lines.append)
        except Exception as exc:  # noqa: BLE001  (a failed build is a result too)
            return {"variant": variant, "quantize": quantize, "target": target, "ok": False,
                    "error": f"{type(exc).__name__}: {first_line(exc)}", "build_s": round(time.perf_counter() - t0, 1),
                    "log_tail": lines[-6:], "torch_warnings": torch_warnings(caught)}
    m = result.manifest
    q = m.get("quantization") or {}
    v = m.get("validation") or {}
    agreement = v.get("top1_agreement")
    passed = v.get("passed")
    would_pass = (passed is True) if not quantize else bool(passed and agreement is not None
                                                             and agreement >= DEFAULT_AGREEMENT)
    return {
        "variant": variant, "quantize": quantize, "target": target, "ok": True, "path": result.output,
        "file": rel(result.output), "size_bytes": result.size_bytes, "build_s": round(time.perf_counter() - t0, 1),
        "optimizer": m.get("optimizer"),
        "quantization": {k: q.get(k) for k in (
            "mode", "engine", "method", "weights", "compute_fraction", "params_fraction", "quantized_modules",
            "float_module_count", "float_modules", "calibration_images", "float_weights_bytes",
            "quantized_weights_bytes", "warning") if k in q},
        "warnings": [q["warning"]] if q.get("warning") else [],
        "validation": {k: v.get(k) for k in (
            "passed", "engine", "inputs", "num_inputs", "max_rel_err", "min_cosine", "top1_agreement",
            "accuracy", "float_accuracy", "accuracy_drop", "vs_quantized_eager") if k in v},
        "would_pass_default_min_agreement": would_pass,
        "notes": result.notes,
        "torch_warnings": torch_warnings(caught),
        "log": [line.strip() for line in lines if "note:" in line or "warning:" in line or "retrying" in line],
    }


def torch_warnings(caught) -> List[str]:
    """Distinct warnings raised while building, minus tracing/deprecation chatter."""
    skip = ("TracerWarning", "DeprecationWarning", "FutureWarning")
    out: List[str] = []
    for w in caught:
        if w.category.__name__ in skip or "reduce_range will be deprecated" in str(w.message):
            continue
        msg = f"{w.category.__name__}: {str(w.message).strip().splitlines()[0][:240]}"
        if msg not in out:
            out.append(msg)
    return out


def x86_duplicate_probe() -> dict:
    """Size of one frozen dynamic-int8 Linear(192, 768) saved for the lite interpreter, per engine.

    Under the x86 engine the saved file holds the int8 weight twice (two storages with the same
    bytes); under qnnpack once. This measures it, so the report can say how much of an x86 file
    that is.
    """
    import torch

    out = {"layer": "Linear(192, 768), dynamic int8, torch.jit.freeze, lite-interpreter bytes",
           "int8_weight_bytes": 192 * 768}
    engine0 = torch.backends.quantized.engine
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for engine in ("qnnpack", "x86"):
                if engine not in torch.backends.quantized.supported_engines:
                    continue
                torch.backends.quantized.engine = engine
                torch.manual_seed(0)
                m = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(192, 768)),
                                                           {torch.nn.Linear}, dtype=torch.qint8)
                frozen = torch.jit.freeze(torch.jit.script(m).eval())
                out[engine] = len(frozen._save_to_buffer_for_lite_interpreter())
    except Exception as exc:  # noqa: BLE001
        out["error"] = first_line(exc)
    finally:
        torch.backends.quantized.engine = engine0
    return out


# ----------------------------------------------------------------------------------------------
# Quality on the whole val folder, in the lite interpreter
# ----------------------------------------------------------------------------------------------

def evaluate_val(builds: Dict[str, dict], data: dict) -> Dict[str, dict]:
    """Top-1 predictions of every built file on every val image; accuracy and agreement with float."""
    import torch

    from edgepack.images import read_image
    from edgepack.inspect import open_artifact
    from edgepack.validate import list_images, load_lite

    items = list_images(data["val"])
    images = [read_image(p) for p, _ in items]
    preds: Dict[str, List[int]] = {}
    targets: Dict[str, List[Optional[int]]] = {}
    out: Dict[str, dict] = {}
    threads, engine0 = torch.get_num_threads(), torch.backends.quantized.engine
    torch.set_num_threads(1)  # as the build validates: one thread, no OpenMP/XNNPACK contention
    try:
        for variant, b in builds.items():
            if not b.get("ok"):
                continue
            manifest = open_artifact(b["path"]) or {}
            labels = manifest.get("labels") or data["classes"]
            q = manifest.get("quantization") or {}
            if q.get("mode") not in (None, "none") and q.get("engine"):
                torch.backends.quantized.engine = q["engine"]
            t0 = time.perf_counter()
            try:
                module = load_lite(b["path"])
                with torch.no_grad():
                    preds[variant] = [int(module(img).reshape(-1).argmax()) for img in images]
            except Exception as exc:  # noqa: BLE001
                out[variant] = {"error": f"{type(exc).__name__}: {first_line(exc)}"}
                continue
            finally:
                torch.backends.quantized.engine = engine0
            targets[variant] = [labels.index(c) if c in labels else None for _, c in items]
            pairs = [(p, t) for p, t in zip(preds[variant], targets[variant]) if t is not None]
            out[variant] = {"images": len(images), "accuracy": round(sum(p == t for p, t in pairs) / len(pairs), 4)
                            if pairs else None, "seconds": round(time.perf_counter() - t0, 1),
                            "engine": q.get("engine") if q.get("mode") not in (None, "none") else None}
    finally:
        torch.set_num_threads(threads)
    if "float" in preds:
        for variant, p in preds.items():
            out[variant]["agreement_with_float"] = round(sum(a == b for a, b in zip(p, preds["float"])) / len(p), 4)
    return out


# ----------------------------------------------------------------------------------------------
# Latency
# ----------------------------------------------------------------------------------------------

def measure_latency(files: List[dict], frames: List[List[int]], args) -> Dict[str, dict]:
    """bench_file per (file, frame), repetitions interleaved; median of the repetitions' p50."""
    from edgepack.bench import bench_file

    reps: Dict[str, List[dict]] = {}
    for rep in range(args.reps):
        for f in files:
            for frame in frames:
                key = f"{f['model']}/{f['variant']}/{frame_name(frame)}"
                try:
                    r = bench_file(f["path"], threads=1, runs=args.runs, warmup=args.warmup, image=tuple(frame),
                                   timeout=args.timeout)
                    rec = {k: r.get(k) for k in ("p50_ms", "p90_ms", "min_ms", "mean_ms", "load_ms",
                                                 "first_inference_ms", "peak_rss_mb", "quantized_engine",
                                                 "xnnpack_ops", "omp_num_threads", "omp_wait_policy",
                                                 "omp_max_threads", "torch_num_threads")}
                except Exception as exc:  # noqa: BLE001
                    rec = {"error": f"{type(exc).__name__}: {first_line(exc)}"}
                reps.setdefault(key, []).append(rec)
                log(f"  rep {rep + 1}/{args.reps} {key}: "
                    + (f"p50 {rec['p50_ms']:.2f} ms" if "p50_ms" in rec else rec["error"]))
    out = {}
    for key, rs in reps.items():
        ok = [r for r in rs if "p50_ms" in r]
        agg: dict = {"repetitions": len(ok)}
        errors = sorted({r["error"] for r in rs if "error" in r})
        if errors:
            agg["errors"] = errors
        if ok:
            p50s = [r["p50_ms"] for r in ok]
            agg.update(median_p50_ms=round(statistics.median(p50s), 3), rep_p50_ms=p50s,
                       min_ms=min(r["min_ms"] for r in ok),
                       load_ms=round(statistics.median(r["load_ms"] for r in ok), 2),
                       peak_rss_mb=round(statistics.median(r["peak_rss_mb"] for r in ok), 1),
                       **{k: ok[0].get(k) for k in ("quantized_engine", "xnnpack_ops", "omp_num_threads",
                                                     "omp_wait_policy", "omp_max_threads", "torch_num_threads")})
        out[key] = agg
    return out


# ----------------------------------------------------------------------------------------------
# Summary
# ----------------------------------------------------------------------------------------------

def ratio(a, b) -> Optional[float]:
    return None if a is None or b is None or b == 0 else round(a / b, 4)


def summarize(doc: dict) -> None:
    """Per-file rows (with ratios to the model's float file) and the goal verdicts."""
    rows = []
    order = [v for v, _, _ in VARIANTS]
    for model in sorted(doc["models"], key=lambda m: (m not in doc["settings"]["models"],
                                                       doc["settings"]["models"].index(m)
                                                       if m in doc["settings"]["models"] else 0, m)):
        mdoc = doc["models"][model]
        builds = mdoc.get("builds", {})
        flt = builds.get("float", {})
        for variant in sorted(builds, key=lambda v: (order.index(v) if v in order else len(order), v)):
            b = builds[variant]
            row = {"model": model, "variant": variant, "ok": b.get("ok"), "quantize": b.get("quantize"),
                   "target": b.get("target"), "engine": (b.get("quantization") or {}).get("engine")}
            if not b.get("ok"):
                row["error"] = b.get("error")
                rows.append(row)
                continue
            row["size_bytes"] = b["size_bytes"]
            row["size_vs_float"] = ratio(b["size_bytes"], flt.get("size_bytes")) if flt.get("ok") else None
            for frame in doc["settings"]["frames"]:
                fn = frame_name(frame)
                lat = doc["latency"].get(f"{model}/{variant}/{fn}", {})
                lat_f = doc["latency"].get(f"{model}/float/{fn}", {})
                row[f"latency_ms@{fn}"] = lat.get("median_p50_ms")
                row[f"latency_vs_float@{fn}"] = ratio(lat.get("median_p50_ms"), lat_f.get("median_p50_ms"))
                if lat.get("errors"):
                    row[f"latency_errors@{fn}"] = lat["errors"]
            v = b.get("validation", {})
            ev = mdoc.get("val_eval", {}).get(variant, {})
            q = b.get("quantization", {})
            row.update(build_agreement=v.get("top1_agreement"), build_inputs=v.get("num_inputs"),
                       build_accuracy=v.get("accuracy"), build_float_accuracy=v.get("float_accuracy"),
                       val_agreement=ev.get("agreement_with_float"), val_accuracy=ev.get("accuracy"),
                       val_images=ev.get("images"), min_cosine=v.get("min_cosine"),
                       compute_fraction=q.get("compute_fraction"), params_fraction=q.get("params_fraction"),
                       float_module_count=q.get("float_module_count"), warnings=b.get("warnings", []),
                       torch_warnings=b.get("torch_warnings", []),
                       would_pass_default=b.get("would_pass_default_min_agreement"),
                       optimizer=(b.get("optimizer") or {}).get("path"), notes=b.get("notes", []))
            rows.append(row)
    doc["rows"] = rows
    verdicts = []
    for goal in GOALS:
        for row in rows:
            if row["model"] != goal["model"] or row.get("quantize") != goal["mode"] or not row.get("ok"):
                continue
            for frame in doc["settings"]["frames"]:
                fn = frame_name(frame)
                size, lat = row.get("size_vs_float"), row.get(f"latency_vs_float@{fn}")
                agree = row.get("val_agreement")
                verdicts.append({
                    "goal": goal["id"], "what": goal["what"], "model": row["model"], "variant": row["variant"],
                    "engine": row["engine"], "frame": fn,
                    "size_vs_float": size, "size_max": goal["size_max"],
                    "size_met": None if size is None else size <= goal["size_max"],
                    "latency_vs_float": lat, "latency_max": goal["latency_max"],
                    "latency_met": None if lat is None else lat <= goal["latency_max"],
                    "agreement_val": agree, "agreement_build": row.get("build_agreement"),
                    "agreement_min": goal["agreement_min"],
                    "agreement_met": None if agree is None else agree >= goal["agreement_min"],
                })
    doc["goals"] = verdicts


# ----------------------------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------------------------

def _pct(v, digits=0) -> str:
    if v is not None and 0 < v < 0.01 and digits == 0:
        digits = 1 if v >= 0.001 else 2
    return "—" if v is None else f"{v * 100:.{digits}f}%"


def _x(v) -> str:
    return "—" if v is None else f"{v:.2f}x"


def _ms(v) -> str:
    return "—" if v is None else f"{v:.2f}"


def _met(v) -> str:
    return "—" if v is None else ("yes" if v else "**no**")


def _miss(measured, limit, upper=True, as_pct=False) -> str:
    """'met' or how far off, e.g. 'missed by 0.12x (0.92x vs <= 0.80x)'."""
    if measured is None:
        return "not measured"
    ok = measured <= limit if upper else measured >= limit
    fmt = (lambda v: f"{v * 100:.1f}%") if as_pct else (lambda v: f"{v:.2f}x")
    op = "<=" if upper else ">="
    if ok:
        return f"met ({fmt(measured)}, goal {op} {fmt(limit)})"
    off = measured - limit if upper else limit - measured
    unit = " points" if as_pct else "x"
    off_s = f"{off * 100:.1f}{unit}" if as_pct else f"{off:.2f}{unit}"
    return f"**missed by {off_s}** ({fmt(measured)}, goal {op} {fmt(limit)})"


def explain(doc: dict) -> List[str]:
    """The 'what this means' paragraphs, from the measured figures."""
    frames = [frame_name(f) for f in doc["settings"]["frames"]]
    big, small = frames[0], frames[-1]
    rows = {(r["model"], r["variant"]): r for r in doc["rows"] if r.get("ok")}
    P: List[str] = []
    if doc["settings"]["quick"]:
        P.append("**This is a --quick smoke run** (tiny data, a barely trained ViT, few timed runs on a busy "
                 "machine): it shows the script works end to end; none of its numbers mean anything.")
    for goal in GOALS:
        vs = [v for v in doc["goals"] if v["goal"] == goal["id"]]
        if goal["model"] not in doc["settings"]["models"] or not any(
                v.startswith(goal["mode"]) for v in doc["settings"]["variants"]):
            continue  # not asked for in this run
        if not vs:
            P.append(f"**{goal['what']}**: no result (the builds failed; see the table).")
            continue
        parts = []
        for variant in sorted({v["variant"] for v in vs}):
            mine = [v for v in vs if v["variant"] == variant]
            row = rows.get((goal["model"], variant), {})
            first = mine[0]
            lat = "; ".join(f"latency at {v['frame']} {_miss(v['latency_vs_float'], goal['latency_max'])}"
                            for v in mine)
            parts.append(f"`{variant}` ({first['engine']}): file {_miss(first['size_vs_float'], goal['size_max'], as_pct=True)}; "
                         f"{lat}; agreement on the val set {_miss(first['agreement_val'], goal['agreement_min'], upper=False, as_pct=True)}"
                         f" (build report: {_pct(first['agreement_build'], 1)}); covers {_pct(row.get('compute_fraction'))} "
                         f"of conv/linear compute and {_pct(row.get('params_fraction'))} of the parameters.")
        P.append(f"**{goal['what']}** ({goal['model']}): " + " ".join(parts))
    # Why, from the figures.
    why = []
    vit_dyn = rows.get(("vit", "dynamic-mobile")) or rows.get(("vit", "dynamic-x86"))
    if vit_dyn and vit_dyn.get("params_fraction") is not None:
        pf = vit_dyn["params_fraction"]
        floor = (1 - pf) + pf / 4
        why.append(f"File size: int8 weights are a quarter of float32, so with {pf:.0%} of the ViT's parameters in "
                   f"Linear layers the best a dynamic file can do is about {floor:.0%} of the float file "
                   "(the rest — patch embedding conv, position embedding, LayerNorms, biases, quantization "
                   "scales — stays float32; the scripted preprocessing and the file's bytecode add a fixed part).")
    probe = doc.get("x86_duplicate_probe") or {}
    pairs = []
    for m in ("vit", "cnn"):
        for mode in ("dynamic", "static"):
            a, b = rows.get((m, f"{mode}-x86"), {}), rows.get((m, f"{mode}-mobile"), {})
            if a.get("size_bytes") and b.get("size_bytes") and a["size_bytes"] > 1.3 * b["size_bytes"]:
                pairs.append(f"{m} {mode} {a['size_bytes'] / b['size_bytes']:.2f}x")
    if pairs and probe.get("x86") and probe.get("qnnpack"):
        why.append(f"The x86 files are bigger than the mobile ones ({', '.join(pairs)} the size) for a reason "
                   "in torch, not edgepack: a module frozen under the x86 engine is saved with each int8 weight "
                   "stored twice (two storages with the same bytes; under qnnpack the two references share one "
                   f"storage). Measured here on one frozen dynamic-int8 Linear(192, 768) "
                   f"({probe['int8_weight_bytes']:,} bytes of int8 weight): {probe['x86']:,} bytes under x86, "
                   f"{probe['qnnpack']:,} under qnnpack. That alone can push an x86 file past the size targets.")
    flt = {m: rows.get((m, "float"), {}) for m in ("vit", "cnn")}
    pre = []
    for m in ("vit", "cnn"):
        a, b = flt[m].get(f"latency_ms@{big}"), flt[m].get(f"latency_ms@{small}")
        if big != small and a and b:
            pre.append(f"{m} {max(a - b, 0):.2f} of {a:.2f} ms ({max(a - b, 0) / a:.0%})")
    if pre:
        why.append(f"Latency at {big} includes the bundled preprocessing (antialiased resize of the whole frame "
                   f"down to the 64 px input, crop, normalise), which stays float32 in every variant; the float "
                   f"files' {big} vs {small} difference puts it at about " + ", ".join(pre) +
                   f". The {small} column is close to the network alone, so it shows what quantization does to "
                   "the network; the frame column is what an app sees.")
    missed = lambda gid: any(v["goal"] == gid and v["latency_met"] is False for v in doc["goals"])  # noqa: E731
    if missed("vit-dynamic"):
        why.append("The float files run XNNPACK's prepacked fp32 kernels (`optimize_for_mobile`), a strong "
                   "baseline. Dynamic int8 quantizes only the Linear layers and quantizes their activations again "
                   "on every call; at 64 px the ViT has 17 tokens, so each Linear is a small [17 x 192] GEMM where "
                   "that overhead and the float work left between the layers (attention matmuls, softmax, "
                   "LayerNorm, GELU) are a large share (a likely reading; this script does not profile per op).")
    if missed("cnn-static"):
        why.append("Static int8 of the CNN competes with the same XNNPACK fp32 baseline; at 64 px its "
                   "convolutions are small, so the fixed cost per operator (quantizing the input, requantizing "
                   "between layers, the float operators left) is a large share (a likely reading, not profiled).")
    why.append("`--target mobile` files run the qnnpack engine. On this x86 machine that is not a phone's "
               "speed: PyTorch's qnnpack kernels are tuned for ARM NEON and are slow on x86, so the mobile rows "
               "measure file size and numerics faithfully (same engine as the phone) but their latency is no "
               "prediction of a phone's; the `x86` rows are what an x86 edge box gets. A phone figure needs the "
               "Android demo's benchmark screen (benchmarks/README.md, 'On a phone').")
    cnn_st = rows.get(("cnn", "static-x86")) or rows.get(("cnn", "static-mobile"))
    if cnn_st and cnn_st.get("float_module_count"):
        why.append(f"Static int8 left {cnn_st['float_module_count']} conv/linear layer(s) of the CNN in float "
                   "(FX could not quantize them), which costs size and speed (a dequantize/quantize pair at each).")
    if doc["settings"].get("shared_machine"):
        why.append("Another job was using the CPUs during this run (see Load above): latencies are noisy; the "
                   "spread over repetitions is in the JSON (`latency.*.rep_p50_ms`).")
    P.append("Why: " + " ".join(why))
    return P


def markdown(doc: dict) -> str:
    mc, st = doc["machine"], doc["settings"]
    frames = [frame_name(f) for f in st["frames"]]
    L = [
        f"# Quantization: float vs dynamic vs static `.ptl`{' (quick run)' if st['quick'] else ''}",
        "",
        f"- **Command:** `{doc['command']}`",
        f"- **When:** {doc['started']} (wall time {doc['wall_s']:.0f} s)",
        f"- **Machine:** {mc['cpu']}, {mc['logical_cpus']} logical CPUs ({', '.join(mc['cpu_flags']) or 'no AVX2'}), "
        f"{mc['memory_gb']} GB; {mc['os']}",
        f"- **Software:** torch {mc['torch_version']} (XNNPACK: {mc['torch_xnnpack']}, supported quantized engines: "
        f"{', '.join(doc['quantized_engines'])}), timm {mc['timm_version']}, Python {mc['python']}, "
        f"edgepack {mc['edgepack_version']}",
        f"- **Load:** load average {doc['load_average_start']} at start, {doc['load_average_end']} at end"
        + (f"; other busy processes at start: {', '.join(doc['busy_at_start'])}" if doc["busy_at_start"] else ""),
        f"- **Data:** {doc['data']['origin']}: {doc['data']['train_images']} train / {doc['data']['val_images']} val "
        f"images, 6 classes; static calibration: {doc['data']['calib_images']} train images "
        f"({st['calib_per_class']} per class).",
        f"- **Latency:** `edgepack.bench.bench_file` (what `edgepack bench` runs): each file, frame and repetition in "
        f"a fresh process; 1 thread (`torch.set_num_threads(1)`, OpenMP 1 thread, `OMP_WAIT_POLICY=PASSIVE`); "
        f"the quantized engine the file was built for; a synthetic uint8 RGB frame of {' and '.join(frames)} "
        f"({frames[0]} is `edgepack bench`'s default, the Android demo's frame) in, probabilities out. "
        f"A cell is the median over {st['reps']} repetition(s) of the p50 of {st['runs']} timed runs after "
        f"{st['warmup']} warm-up, in ms.",
        f"- **Quality:** *val agr.* / *val acc.*: every file run in the lite interpreter on all "
        f"{doc['data']['val_images']} val images: top-1 agreement with the model's float file, and accuracy. "
        f"*build agr.*: the build's own validation figure (8 synthetic frames + {st['val_count']} val images, "
        f"against the float eager model). Builds ran with `min_agreement` ~0 so that they report instead of "
        f"failing; *≥98%* says whether the build would pass the default `--min-agreement 0.98`.",
        "",
        "## Models",
        "",
        "| model | backbone | trained by | epochs | train imgs | val acc (Lightning, PIL transform) |",
        "|---|---|---|---:|---:|---:|",
    ]
    for name, m in doc["models"].items():
        i = m["info"]
        L.append(f"| {name} | {i.get('backbone')}{' ' + json.dumps(i['backbone_kwargs']) if i.get('backbone_kwargs') else ''}"
                 f" | {i.get('trained_by')} | {i.get('epochs_done', '—')} | {i.get('train_images', '—')} | "
                 f"{_pct(i.get('val_acc_lightning'), 1)} |")
    L += ["", "## Results", ""]
    lat_cols = "".join(f" latency {f} (vs float) |" for f in frames)
    L.append(f"| model | variant | engine | file bytes | vs float |{lat_cols} val agr. | build agr. | val acc. | "
             "build acc. (file / float) | compute / params quantized | ≥98% | warnings |")
    L.append("|---|---|---|---:|---:|" + "---:|" * len(frames) + "---:|---:|---:|---:|---:|:-:|---|")
    for r in doc["rows"]:
        if not r.get("ok"):
            L.append(f"| {r['model']} | {r['variant']} | {ENGINES.get(r.get('target'), '—')} | failed: "
                     f"{r.get('error', '').replace('|', '/')} |" + " |" * (len(frames) + 9))
            continue
        lat = "".join(" failed |" if r.get(f"latency_ms@{f}") is None and r.get(f"latency_errors@{f}") else
                      f" {_ms(r.get(f'latency_ms@{f}'))} ({_x(r.get(f'latency_vs_float@{f}'))}) |" for f in frames)
        cov = "—" if r.get("compute_fraction") is None else f"{_pct(r['compute_fraction'])} / {_pct(r['params_fraction'])}"
        warn = "; ".join(w.split(":")[0] for w in r.get("warnings") or []) or ""
        if r.get("float_module_count"):
            warn = (warn + "; " if warn else "") + f"{r['float_module_count']} conv/linear layer(s) left float"
        L.append(f"| {r['model']} | {r['variant']} | {r.get('engine') or 'fp32'} | {r['size_bytes']:,} | "
                 f"{_pct(r.get('size_vs_float'))} |{lat} {_pct(r.get('val_agreement'), 1)} | "
                 f"{_pct(r.get('build_agreement'), 1)} | {_pct(r.get('val_accuracy'), 1)} | "
                 f"{_pct(r.get('build_accuracy'), 1)} / {_pct(r.get('build_float_accuracy'), 1)} | {cov} | "
                 f"{_met(r.get('would_pass_default'))} | {warn} |")
    L += ["", "## Against the targets", "",
          "| target | file | engine | frame | file vs float | latency vs float | val agreement |",
          "|---|---|---|---|---:|---:|---:|"]
    for v in doc["goals"]:
        L.append(f"| {v['what']}: file ≤ {v['size_max']:.0%}, latency ≤ {v['latency_max']}x, agreement ≥ "
                 f"{v['agreement_min']:.0%} | {v['model']} {v['variant']} | {v['engine']} | {v['frame']} | "
                 f"{_pct(v['size_vs_float'])} ({_met(v['size_met'])}) | {_x(v['latency_vs_float'])} "
                 f"({_met(v['latency_met'])}) | {_pct(v['agreement_val'], 1)} ({_met(v['agreement_met'])}) |")
    L += ["", "## What this means", ""]
    for p in explain(doc):
        L += [p, ""]
    warnings = sorted({w for r in doc["rows"] for w in (r.get("warnings") or [])})
    notes = sorted({f"{r['model']} {r['variant']}: {n}" for r in doc["rows"] for n in (r.get("notes") or [])})
    tw: Dict[str, List[str]] = {}
    for r in doc["rows"]:
        for w in r.get("torch_warnings") or []:
            tw.setdefault(w, []).append(f"{r['model']} {r['variant']}")
    notes += [f"torch, while building {', '.join(who)}: {w}" for w, who in tw.items()]
    lat_err: Dict[str, List[str]] = {}
    for key, lat in doc["latency"].items():
        for e in lat.get("errors") or []:
            lat_err.setdefault(e.split(": ", 1)[0] + ": " + e.rsplit("(", 1)[-1].rstrip(")"), []).append(key)
    notes += [f"latency measurement failed ({len(keys)}x, e.g. {keys[0]}): {e}" for e, keys in lat_err.items()]
    if warnings or notes or doc.get("notes"):
        L += ["## Build warnings and notes", ""]
        L += [f"- warning: {w}" for w in warnings] + [f"- {n}" for n in notes] + [f"- {n}" for n in doc.get("notes", [])]
        L.append("")
    L.append("Every figure, per-repetition latencies and the full quantization reports are in the JSON next to this file.")
    return "\n".join(L) + "\n"


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: tiny data and training, 1 repetition of few runs, one frame size; "
                        "writes quantization_quick.{md,json} under benchmarks/.cache/quick unless --out")
    p.add_argument("--out", help="results folder (default benchmarks/results; --quick: benchmarks/.cache/quick)")
    p.add_argument("--models", default="vit,cnn", help="comma-separated subset of vit,cnn (default both)")
    p.add_argument("--variants", help=f"comma-separated subset of {','.join(v for v, _, _ in VARIANTS)} "
                                      "(default all; float is always built: it is the reference)")
    p.add_argument("--data", help="an ImageFolder root with train/ and val/ (default: examples/data/shapes "
                                  "when complete, else generated into benchmarks/.cache)")
    p.add_argument("--train-per-class", type=int, help="generated train images per class (default 300; --quick 10)")
    p.add_argument("--val-per-class", type=int, help="generated val images per class (default 50; --quick 5)")
    p.add_argument("--calib-per-class", type=int, help="calibration images per class, from train (default 16; --quick 2)")
    p.add_argument("--val-count", type=int, default=64, help="val images the build validates on (default 64, "
                                                             "edgepack's default)")
    p.add_argument("--cnn", default=str(DEFAULT_CNN), help="the CNN checkpoint (default examples/shapes_regnet.ckpt)")
    p.add_argument("--cnn-epochs", type=int, default=1, help="epochs of the --quick stand-in CNN (default 1)")
    p.add_argument("--vit-backbone", default="deit_tiny_patch16_224", help="timm ViT (default deit_tiny_patch16_224)")
    p.add_argument("--vit-epochs", type=int, help="ViT training epochs (default 12; --quick 2)")
    p.add_argument("--vit-lr", type=float, default=5e-4, help="ViT AdamW learning rate (default 5e-4)")
    p.add_argument("--train-minutes", type=float, help="stop training a model after this long (default 3; --quick 1)")
    p.add_argument("--train-threads", type=int, help="torch threads for training (default all CPUs; --quick 1)")
    p.add_argument("--retrain", action="store_true", help="retrain the ViT even if a cached checkpoint matches")
    p.add_argument("--frames", help="frame sizes WxH for latency (default 640x480,64x64; --quick 640x480)")
    p.add_argument("--reps", type=int, help="repetitions per file and frame (default 3; --quick 1)")
    p.add_argument("--runs", type=int, help="timed runs per repetition (default 50; --quick 5)")
    p.add_argument("--warmup", type=int, help="warm-up runs per repetition (default 5; --quick 1)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per benchmark process (default 300)")
    args = p.parse_args(argv)

    q = args.quick
    args.train_per_class = args.train_per_class or (10 if q else 300)
    args.val_per_class = args.val_per_class or (5 if q else 50)
    args.calib_per_class = args.calib_per_class or (2 if q else 16)
    args.vit_epochs = args.vit_epochs or (2 if q else 12)
    args.train_minutes = args.train_minutes or (1.0 if q else 3.0)
    args.train_threads = args.train_threads or (1 if q else (os.cpu_count() or 1))
    args.reps = args.reps or (1 if q else 3)
    args.runs = args.runs or (5 if q else 50)
    args.warmup = args.warmup if args.warmup is not None else (1 if q else 5)
    frames = parse_frames(args.frames or ("640x480" if q else "640x480,64x64"))
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if set(models) - {"vit", "cnn"}:
        p.error("--models: choose from vit, cnn")
    variants = [v for v, _, _ in VARIANTS]
    if args.variants:
        wanted = {v.strip() for v in args.variants.split(",")}
        if wanted - set(variants):
            p.error(f"--variants: unknown {', '.join(sorted(wanted - set(variants)))}")
        variants = [v for v in variants if v == "float" or v in wanted]
    out_dir = pathlib.Path(args.out) if args.out else (CACHE / "quick" if q else HERE / "results")
    stem = "quantization_quick" if q else "quantization"

    started = time.time()
    t_start = time.perf_counter()
    ensure_cache()
    work = CACHE / ("quick" if q else "full")
    work.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)

    import torch

    exe = os.path.relpath(sys.executable)
    exe = sys.executable if exe.startswith("..") else exe
    doc: dict = {
        "command": shlex.join([exe, os.path.relpath(__file__)] + (sys.argv[1:] if argv is None else list(argv))),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "machine": machine(), "quantized_engines": [e for e in torch.backends.quantized.supported_engines if e != "none"],
        "load_average_start": load_average(), "busy_at_start": other_busy_processes(),
        "settings": {"quick": q, "models": models, "variants": variants, "frames": frames, "reps": args.reps,
                     "runs": args.runs, "warmup": args.warmup, "threads": 1, "calib_per_class": args.calib_per_class,
                     "val_count": args.val_count, "vit_epochs": args.vit_epochs, "vit_lr": args.vit_lr,
                     "train_minutes": args.train_minutes, "train_threads": args.train_threads,
                     "goals": GOALS, "default_min_agreement": DEFAULT_AGREEMENT},
        "models": {}, "latency": {}, "notes": [],
    }
    log(f"quantization benchmark{' (quick)' if q else ''}: models {', '.join(models)}; variants {', '.join(variants)}")
    data = prepare_data(args, work)
    doc["data"] = {k: (rel(v) if isinstance(v, pathlib.Path) else v) for k, v in data.items()}

    for name in models:
        log(f"model {name}:")
        m = get_model(name, args, data, work)
        doc["models"][name] = {"info": m["info"], "builds": {}}
        ptl_dir = work / "ptl"
        ptl_dir.mkdir(parents=True, exist_ok=True)
        for variant, quantize, target in VARIANTS:
            if variant not in variants:
                continue
            log(f"  build {name} {variant} ...")
            torch.set_num_threads(1)  # as run_benchmarks.py: no OpenMP/XNNPACK contention during validation
            b = build_variant(name, m["ckpt"], variant, quantize, target, data, ptl_dir, args)
            doc["models"][name]["builds"][variant] = b
            log(f"    {'ok: %s bytes, build agreement %s' % (b['size_bytes'], b['validation'].get('top1_agreement')) if b['ok'] else 'FAILED: ' + b['error']}"
                f" ({b['build_s']} s)")
        log(f"  evaluating {name} files on {data['val_images']} val images ...")
        doc["models"][name]["val_eval"] = evaluate_val(doc["models"][name]["builds"], data)

    doc["x86_duplicate_probe"] = x86_duplicate_probe()
    files = [{"model": name, "variant": v, "path": b["path"]}
             for name, mdoc in doc["models"].items() for v, b in mdoc["builds"].items() if b.get("ok")]
    log(f"latency: {len(files)} files x {len(frames)} frame(s) x {args.reps} repetition(s) ...")
    doc["latency"] = measure_latency(files, frames, args)
    for mdoc in doc["models"].values():  # paths are local; the JSON keeps repository-relative names
        for b in mdoc["builds"].values():
            b.pop("path", None)
    doc["load_average_end"] = load_average()
    doc["settings"]["shared_machine"] = bool(doc["busy_at_start"]) or any(
        (la or [0])[0] > 0.5 * (os.cpu_count() or 1) for la in (doc["load_average_start"], doc["load_average_end"]))
    doc["wall_s"] = round(time.perf_counter() - t_start, 1)
    summarize(doc)
    # Error messages carry absolute paths: keep them repository-relative.
    text = json.dumps(doc, indent=1, sort_keys=True).replace(str(ROOT) + os.sep, "")
    (out_dir / f"{stem}.json").write_text(text + "\n")
    (out_dir / f"{stem}.md").write_text(markdown(doc))
    log(f"wrote {rel(out_dir / (stem + '.md'))} and .json (wall time {doc['wall_s']:.0f} s)")
    failed_builds = [f"{r['model']} {r['variant']}" for r in doc["rows"] if not r.get("ok")]
    failed_lat = [k for k, v in doc["latency"].items() if not v.get("repetitions")]
    if failed_builds:
        log(f"builds that failed (recorded in the results): {', '.join(failed_builds)}")
    if failed_lat:
        log(f"latency could not be measured for {len(failed_lat)} configuration(s), e.g. {failed_lat[0]}: "
            f"{doc['latency'][failed_lat[0]].get('errors')}")
    return 1 if failed_lat else 0


if __name__ == "__main__":
    sys.exit(main())
