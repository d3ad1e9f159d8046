"""`edgepack check FILE`: run a model file in the runtime a device uses, by format.

`.ptl`: torch 2.1's lite interpreter (= pytorch_android_lite 2.1.0), compared with this torch's
(`edgepack.compat`). `.pte`: the installed ExecuTorch runtime, the release the Android library is
built from, against the contract in the file's own manifest (`edgepack.formats.pte.check`).
Exit 0 when the check passes, 1 when it fails, 2 for usage errors.
"""
from __future__ import annotations

import json
import sys

import click

from .compat import PYTHON_ENV_VAR, _format_report, _jsonable, check_in_runtime
from .formats import format_of_file


def _format_pte(report: dict) -> str:
    head = f"{'PASS' if report['passed'] else 'FAIL'} {report['model']} in {report['runtime']}"
    if report.get("written_by"):
        head += f" (written by {report['written_by']})"
    return "\n".join([head] + [f"  {line}" for line in report.get("checks", [])])


@click.command()
@click.argument("model", type=click.Path())
@click.option("--runtime", default="2.1", show_default=True, help=".ptl: lite runtime release to check against.")
@click.option("--python", "python", type=click.Path(dir_okay=False),
              help=f".ptl: Python of the old-runtime environment (default: .venv-compat, or ${PYTHON_ENV_VAR}).")
@click.option("--json", "as_json", is_flag=True)
def check_command(model, runtime, python, as_json):
    """Run MODEL in the runtime a device uses: a .ptl in an old lite runtime (torch 2.1 = the last
    Android release) compared with this torch's lite interpreter; a .pte in ExecuTorch's runtime
    against its manifest's contract. Exit 0 when it passes, 1 when it does not, 2 for usage errors."""
    # EdgepackError: reported by the CLI group
    if format_of_file(model) == "pte":
        from .formats.pte import check

        report = check(model)
        text = _format_pte(report)
    else:
        report = check_in_runtime(model, runtime=runtime, python=python)
        text = _format_report(report)
    if as_json:
        click.echo(json.dumps(_jsonable(report), indent=2, sort_keys=True))
    else:
        click.echo(text)
    if not report["passed"]:
        click.echo(f"edgepack: error: check failed: {report['reason']}", err=True)
        sys.exit(1)
