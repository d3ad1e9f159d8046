"""Run `.ptl` files in an old torch's lite interpreter (torch 2.1.0 = pytorch_android_lite 2.1.0).

Runs INSIDE the old-runtime environment (`make setup-compat` creates .venv-compat from
compat/requirements.txt); needs only the standard library and that torch. edgepack's
`check_in_runtime` (edgepack/compat.py, `edgepack check`) drives it; it can also be used by hand:

    .venv-compat/bin/python edgepack/data/run_in_old_runtime.py MODEL.ptl INPUTS OUTPUTS.pt [--engine qnnpack]
    .venv-compat/bin/python edgepack/data/run_in_old_runtime.py --jobs JOBS.json
    .venv-compat/bin/python edgepack/data/run_in_old_runtime.py --dump-ops edgepack/data/ops-2.1.json

INPUTS is a `torch.save`d list (or tuple) of tensors, one model call each, or a `.npy` array (one
call). OUTPUTS gets a `torch.save`d list of the output tensors. A jobs file is JSON:
`{"results": "RESULTS.json", "jobs": [{"model": ..., "inputs": ..., "outputs": ..., "engine": ...}]}`;
RESULTS.json is rewritten after every job, so a crash (segfault) in one job still leaves the
results of the jobs before it. Each result says whether the file loaded and ran, and the first
error line when not.

`--dump-ops` writes every operator this torch registers (`aten::name.overload` -> number of schema
arguments); edgepack/data/ops-2.1.json is that list for torch 2.1.0, which edgepack uses to check a
file's operators without running the old torch (`edgepack.inspect.operator_problems`). Both files
are package data: an installed edgepack (a wheel) has them too.

Exit status: 0 every job ran, 1 a job failed to load or run, 2 usage error.
"""
import argparse
import json
import os
import sys
import time
import traceback


def _info():
    import torch

    xnnpack = getattr(torch._C, "_is_xnnpack_enabled", lambda: None)()
    return {"torch_version": torch.__version__, "python": sys.version.split()[0],
            "quantized_engines": list(torch.backends.quantized.supported_engines), "xnnpack": xnnpack}


def _load_inputs(path):
    import torch

    if path.endswith(".npy"):
        import numpy as np

        return [torch.from_numpy(np.load(path))]
    try:
        data = torch.load(path, weights_only=True)
    except TypeError:  # torch too old for weights_only
        data = torch.load(path)
    if isinstance(data, torch.Tensor):
        return [data]
    return list(data)


def _error_text(exc):
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[-4000:]


def run_job(job):
    """Load, run and save one model; returns the result record (never raises)."""
    import torch
    from torch.jit.mobile import _get_model_bytecode_version, _load_for_lite_interpreter

    result = {"model": job["model"], "loaded": False, "ran": False, "error": None, "stage": None}
    engine = job.get("engine") or "qnnpack"
    try:
        result["stage"] = "setup"
        if engine not in torch.backends.quantized.supported_engines:
            raise RuntimeError(f"quantized engine {engine} not available in torch {torch.__version__}")
        torch.backends.quantized.engine = engine
        result["engine"] = engine
        inputs = _load_inputs(job["inputs"])
        result["stage"] = "load"
        result["bytecode_version"] = int(_get_model_bytecode_version(job["model"]))
        start = time.perf_counter()
        module = _load_for_lite_interpreter(job["model"])
        result["load_s"] = round(time.perf_counter() - start, 4)
        result["loaded"] = True
        result["stage"] = "run"
        start = time.perf_counter()
        with torch.no_grad():
            outputs = [module(x) for x in inputs]
        result["run_s"] = round(time.perf_counter() - start, 4)
        result["ran"] = True
        result["stage"] = "save"
        torch.save([o.detach().contiguous() for o in outputs], job["outputs"])
        result["stage"] = "done"
    except Exception as exc:  # noqa: BLE001 - every failure is reported, the next job still runs
        result["error"] = _error_text(exc)
    return result


def dump_ops(path):
    import torch

    ops = {}
    for schema in torch._C._jit_get_all_schemas():
        name = schema.name + ("." + schema.overload_name if schema.overload_name else "")
        ops[name] = max(ops.get(name, 0), len(schema.arguments))
    with open(path, "w") as f:
        f.write('{"torch_version": %s,\n "ops": {\n' % json.dumps(torch.__version__))
        f.write(",\n".join("  %s: %d" % (json.dumps(k), ops[k]) for k in sorted(ops)))
        f.write("\n }\n}\n")
    return len(ops)


def _write_results(path, info, results):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(dict(info, results=results), f, indent=1)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?")
    parser.add_argument("inputs", nargs="?")
    parser.add_argument("outputs", nargs="?")
    parser.add_argument("--engine", default="qnnpack", help="quantized engine (phones: qnnpack)")
    parser.add_argument("--jobs", help="JSON jobs file (see the module docstring)")
    parser.add_argument("--dump-ops", metavar="FILE", help="write this torch's operator list (JSON) and exit")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    args = parser.parse_args(argv)
    if args.dump_ops:
        print(f"{dump_ops(args.dump_ops)} operators written to {args.dump_ops}")
        return 0
    if args.jobs:
        with open(args.jobs) as f:
            spec = json.load(f)
        jobs, results_path = spec["jobs"], spec.get("results")
    elif args.model and args.inputs and args.outputs:
        jobs = [{"model": args.model, "inputs": args.inputs, "outputs": args.outputs, "engine": args.engine}]
        results_path = None
    else:
        parser.error("give MODEL INPUTS OUTPUTS, or --jobs FILE")
        return 2

    import torch

    torch.set_num_threads(max(1, args.threads))
    info = _info()
    results = []
    for job in jobs:
        results.append(run_job(job))
        if results_path:
            _write_results(results_path, info, results)
    if not results_path:
        json.dump(dict(info, results=results), sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0 if all(r["ran"] and r["stage"] == "done" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
