"""The `edgepack` command line: a thin Click layer over the library functions.

Exit codes (DESIGN.md): 0 success, 1 validation failed (nothing written), 2 usage or input error
with a one-line reason, 3 internal error (a bug), 130 interrupted. Every failure, Click's usage
errors included, is reported as one line `edgepack: error: ...` on stderr (a crash adds its
traceback above that line). `--json` prints exactly one JSON document on stdout, also on failure:
`{"error": "...", "exit_code": N}` when the command could not produce its own report; progress goes
to stderr.

All of this is handled in `EdgepackGroup.main`, so it holds however the group is invoked: the
console script, `python -m edgepack`, and Click's test runner alike.
"""
from __future__ import annotations

import json
import pathlib
import sys
import traceback
from typing import Optional, Sequence

import click

from .errors import EdgepackError, one_line

JSON_FLAG = "--json"


def _wants_json(args: Sequence[str]) -> bool:
    """Whether the command line asks for JSON output (`--json` before any `--` separator)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == JSON_FLAG:
            return True
    return False


_one_line = one_line


def _report_error(message: str, exit_code: int, as_json: bool) -> None:
    """The one-line error on stderr, and with --json the error document on stdout."""
    message = _one_line(message) or "unknown error"
    click.echo(f"edgepack: error: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"error": message, "exit_code": exit_code}, sort_keys=True))


class EdgepackGroup(click.Group):
    """Click group whose `main` turns every outcome into edgepack's exit codes and messages."""

    def main(self, args: Optional[Sequence[str]] = None, prog_name: Optional[str] = None,
             complete_var: Optional[str] = None, standalone_mode: bool = True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        as_json = _wants_json(args)
        try:
            code = super().main(args=args, prog_name=prog_name or "edgepack", complete_var=complete_var,
                                standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # a bare `edgepack`: its help, as asked
            click.echo(exc.format_message())
            code = 0
        except (KeyboardInterrupt, click.exceptions.Abort):  # 130, not 1 ("validation failed")
            click.echo("edgepack: interrupted", err=True)
            if as_json:
                click.echo(json.dumps({"error": "interrupted", "exit_code": 130}, sort_keys=True))
            code = 130
        except click.ClickException as exc:  # usage errors: one line, with where to read more
            message = exc.format_message()
            ctx = getattr(exc, "ctx", None)
            if isinstance(exc, click.UsageError) and ctx is not None:
                message += f" (see '{ctx.command_path} --help')"
            _report_error(message, 2, as_json)
            code = 2
        except EdgepackError as exc:
            _report_error(str(exc), exc.exit_code, as_json)
            code = exc.exit_code
        except Exception as exc:  # a real crash: keep the traceback; not 1 ("validation failed") or 2
            traceback.print_exc()
            _report_error(f"internal error, a bug: please report it with the traceback above "
                          f"({type(exc).__name__}: {_one_line(exc)[:200]})", 3, as_json)
            code = 3
        code = code if isinstance(code, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)


def _floats(value: Optional[str], name: str, count: int = 3):
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value.replace(",", " ").split()]
    except ValueError:
        raise click.BadParameter(f"expected {count} numbers, got '{value}'", param_hint=name) from None
    if len(numbers) != count:
        raise click.BadParameter(f"expected {count} numbers, got {len(numbers)}", param_hint=name)
    return numbers


def _image_size(value: Optional[str]):
    if value is None:
        return None
    try:
        parts = [int(v) for v in value.lower().replace("x", " ").replace(",", " ").split()]
    except ValueError:
        raise click.BadParameter(f"expected N or HxW, got '{value}'", param_hint="--image-size") from None
    if len(parts) not in (1, 2):
        raise click.BadParameter(f"expected N or HxW, got '{value}'", param_hint="--image-size")
    return parts


def _print_json(doc) -> None:
    click.echo(json.dumps(doc, indent=2, sort_keys=True))


@click.group(cls=EdgepackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgepack")
def main():
    """Package trained image classifiers, segmenters and embedding models into validated PyTorch Lite (.ptl) or
    ExecuTorch (.pte) files."""


@main.command()
@click.argument("source")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output .ptl or .pte (default: SOURCE name + .ptl, or .pte with --format pte).")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@click.option("--weights", type=click.Path(), help="Weights for timm:NAME (state dict, .safetensors or checkpoint).")
@click.option("--arch", help="timm architecture of a plain state-dict SOURCE.")
@click.option("--num-classes", type=click.IntRange(1), help="Class count (default: read from the weights).")
@click.option("--model-class", help="LightningModule of a checkpoint, as pkg.module:Class.")
@click.option("--trust-checkpoint", is_flag=True,
              help="Fully unpickle the checkpoint. Runs code inside it: only for files you trust.")
@click.option("--labels", "labels_file", type=click.Path(), help="Label file, one per line.")
@click.option("--method", type=click.Choice(["trace", "script"]), default="trace", show_default=True,
              help="How the network becomes TorchScript (preprocessing is always scripted).")
@click.option("--input", "input_kind", type=click.Choice(["rgb", "rgba", "float"]), default="rgb", show_default=True,
              help="rgb: uint8 [H,W,3] RGB or [H,W,4] RGBA frame in (alpha ignored), preprocessing bundled; rgba is "
                   "an alias of rgb (same file). float: normalised [N,3,S,S] in.")
@click.option("--output-kind", "--output-type", "output_kind", type=click.Choice(["probabilities", "logits", "mask"]),
              help="Classifiers: probabilities (softmax/sigmoid inside the file, the default) or raw logits. "
                   "Segmentation: mask (uint8 [H, W] class indices at the frame's size, the default) or "
                   "probabilities (the per-class map at the network's resolution).")
@click.option("--image-size", help="Network input size: N or HxW (default: the model's data config).")
@click.option("--interpolation", type=click.Choice(["bilinear", "bicubic", "nearest"]))
@click.option("--crop-pct", type=click.FloatRange(0.05, 2.0))
@click.option("--crop-mode", type=click.Choice(["center", "squash", "border"]))
@click.option("--mean", help="Normalisation mean, 3 numbers (R G B, 0..1 scale).")
@click.option("--std", help="Normalisation std, 3 numbers.")
@click.option("--channels-last/--no-channels-last", default=None,
              help="Hand the network channels-last tensors (default: on with XNNPACK).")
@click.option("--quantize", type=click.Choice(["dynamic", "static"]), is_flag=False, flag_value="dynamic",
              default=None, help="int8 quantization; --quantize alone means dynamic.")
@click.option("--calib", type=click.Path(), help="Calibration images for --quantize=static.")
@click.option("--calib-count", type=click.IntRange(1), default=64, show_default=True)
@click.option("--target", type=click.Choice(["mobile", "x86"]), default="mobile", show_default=True,
              help="Quantization engine of the device: mobile=qnnpack, x86=x86/fbgemm.")
@click.option("--optimize", type=click.Choice(["auto", "xnnpack", "portable", "none"]), default="auto",
              show_default=True, help="auto: optimize_for_mobile where torch has XNNPACK, else portable passes.")
@click.option("--no-optimize", is_flag=True, help="Same as --optimize none.")
@click.option("--bytecode-version", type=int, help="Write this bytecode version (backport).")
@click.option("--runtime", help="Lite runtime the file must run on, e.g. 2.1 (= pytorch_android_lite 2.1.0): caps the "
                   "bytecode version and refuses operators that runtime lacks.")
@click.option("--val", type=click.Path(), help="Validation images (ImageFolder layout gives accuracy).")
@click.option("--val-count", type=click.IntRange(1), default=64, show_default=True)
@click.option("--rtol", type=float, default=1e-3, show_default=True,
              help="Float builds: max error relative to the largest output.")
@click.option("--min-agreement", type=float, default=0.98, show_default=True,
              help="Quantized builds: minimum top-1 agreement with the float model, judged on the --val "
                   "images when given. Embedding builds (float too): minimum top-1 retrieval agreement.")
@click.option("--task", type=click.Choice(["classification", "embedding", "segmentation"]), default="classification",
              show_default=True, help="classification: class probabilities out. embedding: the network's pooled "
                                      "features, L2-normalised, [D] out (no classifier). segmentation: a class "
                                      "mask at the frame's size (set by segmentation sources themselves).")
@click.option("--resize-policy", type=click.Choice(["squash", "letterbox"]),
              help="Segmentation: how the frame becomes the network input (default: the source's data config, "
                   "else squash). letterbox keeps the aspect ratio and pads (.ptl only).")
@click.option("--min-pixel-agreement", type=float,
              help="Segmentation: minimum share of mask pixels equal to the float model's (default 0.995 float, "
                   "0.95 int8, judged on the --val images when given).")
@click.option("--max-miou-drop", type=float,
              help="Segmentation with ground-truth masks in --val (images/ + masks/): largest mIoU loss against "
                   "the float model (default 0.005 float, 0.02 int8).")
@click.option("--min-cosine", type=float, help="Embedding builds: minimum cosine similarity with the float model per "
                                               "input (default 0.9999 float, 0.99 int8).")
@click.option("--accept-mismatch", is_flag=True, help="Keep the file even when validation fails.")
@click.option("--max-pixels", type=click.IntRange(1), default=64_000_000, show_default=True)
@click.option("--ops-yaml", type=click.Path(dir_okay=False), help="Write the root operator list for a selective build.")
@click.option("--format", "fmt", type=click.Choice(["ptl", "pte"]),
              help="ptl (PyTorch lite interpreter) or pte (ExecuTorch); default: from the -o suffix, else ptl.")
@click.option("--max-side", type=int, help=".pte: largest frame side the file accepts (memory is planned for it; "
                                           "default 1920).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report on stdout.")
def build(source, output, force, weights, arch, num_classes, model_class, trust_checkpoint, labels_file, method,
          input_kind, output_kind, image_size, interpolation, crop_pct, crop_mode, mean, std, channels_last,
          quantize, calib, calib_count, target, optimize, no_optimize, bytecode_version, runtime, val, val_count,
          rtol, min_agreement, task, resize_policy, min_pixel_agreement, max_miou_drop, min_cosine, accept_mismatch,
          max_pixels, ops_yaml, fmt, max_side, as_json):
    """Build a validated .ptl or .pte from SOURCE: a .ckpt, timm:NAME, a state dict with --arch, an smp
    save_pretrained() folder, or torchvision:NAME (segmentation)."""
    from .builder import build as build_any
    from .package import BuildOptions

    opts = BuildOptions(
        output=output, force=force, weights=weights, arch=arch, num_classes=num_classes,
        model_class=model_class, trust_checkpoint=trust_checkpoint, labels_file=labels_file, method=method,
        input=input_kind, output_kind=output_kind, image_size=_image_size(image_size),
        interpolation=interpolation, crop_pct=crop_pct, crop_mode=crop_mode, mean=_floats(mean, "--mean"),
        std=_floats(std, "--std"), channels_last=channels_last, quantize=quantize, calib=calib,
        calib_count=calib_count, target=target, optimize="none" if no_optimize else optimize,
        bytecode_version=bytecode_version, runtime=runtime, val=val, val_count=val_count, rtol=rtol,
        min_agreement=min_agreement, accept_mismatch=accept_mismatch, max_pixels=max_pixels,
        format=fmt, max_side=max_side, task=task, min_cosine=min_cosine, resize_policy=resize_policy,
        min_pixel_agreement=min_pixel_agreement, max_miou_drop=max_miou_drop,
    )
    if ops_yaml and (fmt == "pte" or (output or "").lower().endswith(".pte")):
        raise EdgepackError("--ops-yaml lists TorchScript operators for a selective lite build; "
                            "edgepack inspect FILE.pte --json lists a .pte's operators")
    result = build_any(source, opts)  # EdgepackError: reported by EdgepackGroup.main
    if ops_yaml:
        from .inspect import write_ops_yaml

        write_ops_yaml(result.output, ops_yaml)
    if as_json:
        _print_json(result.to_json())
    else:
        click.echo(result.output)
    if result.accepted_mismatch:
        sys.exit(1)


@main.command()
@click.argument("model", type=click.Path())
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--top-k", type=click.IntRange(1), default=5, show_default=True)
@click.option("--max-pixels", type=click.IntRange(1), default=64_000_000, show_default=True)
@click.option("--mask-out", type=click.Path(),
              help="Segmentation: write the class mask as a PNG (palette image whose values are class indices); "
                   "a folder with several images (IMAGE_mask.png each).")
@click.option("--overlay-out", type=click.Path(),
              help="Segmentation: write the photo with the mask's colours blended over it; a folder with several "
                   "images (IMAGE_overlay.png each).")
@click.option("--json", "as_json", is_flag=True)
def predict(model, images, top_k, max_pixels, mask_out, overlay_out, as_json):
    """Run IMAGES through MODEL (.ptl in the lite interpreter, .pte in ExecuTorch) and print the top-k labels
    (an embedding file: each vector's size and norm, and each image's top-k nearest neighbours among the others;
    a segmentation file: each image's class shares, and the mask / overlay PNGs on request)."""
    from .manifest import ManifestError
    from .masks import output_path
    from .predict import Predictor, add_neighbours

    predictor = Predictor(model)
    if (mask_out or overlay_out) and not predictor.segmentation:
        raise EdgepackError(f"{model}: --mask-out/--overlay-out need a segmentation file; this one outputs "
                            f"{predictor.output.get('kind')}")
    many = len(images) > 1
    if mask_out is not None and overlay_out is not None and \
            pathlib.Path(mask_out).resolve() == pathlib.Path(overlay_out).resolve():
        raise EdgepackError(f"--mask-out and --overlay-out are both {mask_out}: the overlay would replace the mask")
    for target in (mask_out, overlay_out):
        if target is not None:
            output_path(target, images[0], "", many)  # a bad target is refused before any image runs
    results, failed = [], 0
    for path in images:
        try:
            if predictor.segmentation:
                results.append(predictor.segment_file(path, max_pixels, output_path(mask_out, path, "_mask", many),
                                                      output_path(overlay_out, path, "_overlay", many)))
                continue
            results.append(predictor.predict_file(path, top_k=top_k, max_pixels=max_pixels))
        except ManifestError:
            raise  # the model file itself is at fault: no image can succeed
        except EdgepackError as exc:
            failed += 1
            results.append({"image": path, "error": str(exc)})
            click.echo(f"edgepack: error: {exc}", err=True)
    if predictor.embedding:
        add_neighbours(results, top_k)
    if as_json:
        _print_json({"model": model, "results": results})
    else:
        for res in results:
            if "error" in res:
                continue
            click.echo(res["image"])
            if predictor.segmentation:
                shares = " · ".join(f"{c['label']} {c['fraction']:.1%}" for c in res["classes"][:top_k])
                click.echo(f"  mask  {res['size'][0]}x{res['size'][1]}  {shares}")
                for key in ("mask_file", "overlay_file"):
                    if key in res:
                        click.echo(f"  wrote {res[key]}")
                continue
            if predictor.embedding:
                click.echo(f"  embedding  dim {res['dim']}, norm {res['norm']:.6f}")
                for n, item in enumerate(res.get("neighbours", [])):
                    click.echo(f"  {'nearest' if n == 0 else '':<9}  cosine {item['cosine']:.6f}  {item['image']}")
                continue
            for item in res["top_k"]:
                click.echo(f"  {item['probability']:7.2%}  {item['label']}")
    if failed:
        sys.exit(2)


@main.command()
@click.argument("model", type=click.Path())
@click.option("--json", "as_json", is_flag=True)
def inspect(model, as_json):
    """Show a .ptl's or .pte's manifest, operators, versions and size."""
    from .formats import describe, format_description

    info = describe(model)
    if as_json:
        _print_json(info)
    else:
        click.echo(format_description(info))


@main.command()
@click.argument("sources", nargs=-1)
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the files, cells/ (resume records) and report.md, report.json, plot.png.")
@click.option("--config", type=click.Path(dir_okay=False), help="TOML batch file: [[source]] tables and options.")
@click.option("--task", type=click.Choice(["classification", "embedding"]),
              help="What every file outputs, as in build [default: classification]; embeddings are judged by "
                   "top-1 retrieval agreement and get no reference rows.")
@click.option("--formats", help="ptl, pte or ptl,pte (default: both).")
@click.option("--quantize", help="Any of none,dynamic,static (default: none,dynamic, and static with --calib).")
@click.option("--channels-last", "channels_last", help="on, off, default, or a list like on,off.")
@click.option("--interpolation", help="Resize filters to try, e.g. bicubic,bilinear (default: the model's).")
@click.option("--threads", multiple=True, help="Benchmark thread counts, e.g. 1,2 (default 1; the first ranks).")
@click.option("--calib", type=click.Path(), help="Calibration images (static int8 cells).")
@click.option("--calib-count", type=click.IntRange(1), help="Calibration images used [default: 64].")
@click.option("--val", type=click.Path(), help="Validation images; class folders give accuracy and its drop.")
@click.option("--val-count", type=click.IntRange(1), help="Validation images used [default: 64].")
@click.option("--max-accuracy-drop", type=float, help="Largest accuracy drop (or top-1 disagreement without labels) "
              "a recommended file may have, 0..1 [default: 0.01].")
@click.option("--runs", type=click.IntRange(1), help="Timed runs per benchmark [default: 30].")
@click.option("--warmup", type=click.IntRange(0), help="Warm-up runs per benchmark [default: 5].")
@click.option("--image", help="Benchmark frame WxH [default: 640x480].")
@click.option("--device-results", multiple=True, type=click.Path(),
              help="On-device benchmark JSON (the Android demo's); ranks by the device's p50 instead.")
@click.option("--no-reference", is_flag=True, help="Skip the eager PyTorch / ONNX Runtime reference rows.")
@click.option("--rebuild", is_flag=True, help="Ignore recorded cells and build and measure everything again.")
@click.option("--max-side", type=int, help="Passed to the .pte builds (largest frame side).")
@click.option("--weights", type=click.Path(), help="Source option for every SOURCE argument (as in build; "
              "--config sources take theirs from the file).")
@click.option("--arch", help="Source option for every SOURCE (as in build).")
@click.option("--num-classes", type=click.IntRange(1), help="Source option for every SOURCE (as in build).")
@click.option("--model-class", help="Source option for every SOURCE (as in build).")
@click.option("--trust-checkpoint", is_flag=True, help="Source option for every SOURCE (as in build).")
@click.option("--labels", type=click.Path(), help="Label file for every SOURCE (as in build).")
@click.option("--json", "as_json", is_flag=True, help="Print report.json on stdout (progress stays on stderr).")
def matrix(sources, out_dir, config, task, formats, quantize, channels_last, interpolation, threads, calib, calib_count,
           val, val_count, max_accuracy_drop, runs, warmup, image, device_results, no_reference, rebuild, max_side,
           weights, arch, num_classes, model_class, trust_checkpoint, labels, as_json):
    """Build every variant of SOURCES (format x quantization x ...), validate and benchmark each, and
    recommend the fastest file within --max-accuracy-drop. Exit 0 with a recommendation, 1 when no
    file qualifies (the report is written either way), 2 for bad input."""
    from .bench import parse_image, parse_threads
    from .matrix import (DEFAULT_MAX_ACCURACY_DROP, DEFAULT_RUNS, DEFAULT_WARMUP, FORMATS, INTERPOLATIONS,
                         QUANTIZATIONS, MatrixOptions, SourceSpec, load_config, parse_list, parse_switch, run_matrix)
    from .matrix_report import format_table, write_reports

    cfg = load_config(config) if config else {}
    pick = lambda cli, key, default=None: cli if cli not in (None, ()) else cfg.get(key, default)  # noqa: E731
    specs = list(cfg.get("sources", [])) + [
        SourceSpec(s, weights=weights, arch=arch, num_classes=num_classes, model_class=model_class,
                   trust_checkpoint=trust_checkpoint, labels=labels) for s in sources]
    quant = pick(quantize, "quantize")
    interp = pick(interpolation, "interpolation")
    cl = pick(channels_last, "channels_last")
    thread_values = pick(threads, "threads", ["1"])
    opts = MatrixOptions(
        out_dir=out_dir,
        formats=parse_list(pick(formats, "formats", list(FORMATS)), FORMATS, "--formats"),
        quantize=None if quant is None else parse_list(quant, QUANTIZATIONS, "--quantize"),
        channels_last=(None,) if cl is None else parse_switch(cl, "--channels-last"),
        interpolation=(None,) if interp is None else parse_list(interp, INTERPOLATIONS, "--interpolation"),
        threads=parse_threads([str(t) for t in (thread_values if isinstance(thread_values, (list, tuple))
                                                 else [thread_values])]),
        calib=pick(calib, "calib"), calib_count=int(pick(calib_count, "calib_count", 64)),
        val=pick(val, "val"), val_count=int(pick(val_count, "val_count", 64)),
        max_accuracy_drop=float(pick(max_accuracy_drop, "max_accuracy_drop", DEFAULT_MAX_ACCURACY_DROP)),
        runs=int(pick(runs, "runs", DEFAULT_RUNS)), warmup=int(pick(warmup, "warmup", DEFAULT_WARMUP)),
        image=parse_image(pick(image, "image", "640x480")),
        references=not no_reference, device_results=list(device_results) or cfg.get("device_results", []),
        rebuild=rebuild, max_side=max_side, task=pick(task, "task", "classification"),
    )
    report = run_matrix(specs, opts)
    write_reports(report, pathlib.Path(out_dir))
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        click.echo(format_table(report))
        click.echo(f"Report: {pathlib.Path(out_dir) / 'report.md'}")
    if not report["recommendation"].get("choice"):
        sys.exit(1)


def _register_optional_commands() -> None:
    """Commands that live in their own modules (bench, check) register here."""
    from .bench import bench_command
    from .check import check_command

    main.add_command(bench_command, "bench")
    main.add_command(check_command, "check")


_register_optional_commands()


def run() -> None:
    """Console entry point (`edgepack`, `python -m edgepack`); see `EdgepackGroup.main`."""
    main.main()


if __name__ == "__main__":  # pragma: no cover
    run()
