"""`edgepack.build`: the entry point that picks the output format and runs its build.

It sits above the shared pipeline (`edgepack.package`) and the format modules
(`edgepack.formats.*`), which both build on that pipeline, so neither has to import the other.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from .formats import resolve_format
from .package import BuildOptions, BuildResult, Reporter, _stderr, build_ptl


def build(source: str, opts: Optional[BuildOptions] = None, report: Reporter = _stderr) -> BuildResult:
    """Build a validated model file from `source` in the format of `opts.format` (or the output's
    suffix, else `.ptl`); raises EdgepackError (exit 2) or ValidationError (exit 1)."""
    opts = replace(opts or BuildOptions(), format=resolve_format(opts or BuildOptions()))
    if opts.format == "pte":
        from .formats.pte import build_pte

        return build_pte(source, opts, report)
    return build_ptl(source, opts, report)
