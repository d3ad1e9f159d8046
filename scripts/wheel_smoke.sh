#!/usr/bin/env bash
# Smoke test of an INSTALLED edgepack (make test-wheel): the package as `pip install .` or the
# wheel gives it, run from an empty folder outside the source tree so that nothing of the
# checkout can be imported or read. It must build a file for the old Android runtime
# (--runtime 2.1 reads the packaged operator list) and check it in torch 2.1 (runs the packaged
# old-runtime script).
#
#   scripts/wheel_smoke.sh VENV_BIN OLD_RUNTIME_PYTHON
set -euo pipefail
bin="$(cd "$1" && pwd)"
compat_python="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"

"$bin/python" - <<'PY'
import pathlib
import sys

import edgepack

where = pathlib.Path(edgepack.__file__).resolve().parent
assert pathlib.Path(sys.prefix).resolve() in where.parents, f"edgepack was imported from {where}, not the installed wheel"
for name in ("data/ops-2.1.json", "data/run_in_old_runtime.py"):
    assert (where / name).is_file(), f"the installed package lacks {name}"
print(f"wheel smoke: edgepack {edgepack.__version__} from {where}")
PY
"$bin/edgepack" build timm:resnet10t --num-classes 3 --image-size 64 --runtime 2.1 -o smoke.ptl
"$bin/edgepack" inspect smoke.ptl --json > inspect.json
"$bin/python" -c 'import json; ops = json.load(open("inspect.json"))["operator_problems"]; assert ops == {"2.1": []}, ops'
"$bin/edgepack" check smoke.ptl --python "$compat_python"
echo "wheel smoke: build --runtime 2.1, inspect and check passed"
