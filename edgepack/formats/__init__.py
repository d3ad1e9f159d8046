"""Output formats. The build pipeline, preprocessing contract, validation and manifest are shared
(`edgepack.package`); what differs per format lives in one module each:

| format | module | runtime that validates the written file |
|---|---|---|
| `ptl` | `edgepack.package` (`_build_ptl`), `edgepack.compat` | PyTorch lite interpreter |
| `pte` | `edgepack.formats.pte` | ExecuTorch runtime (Python bindings) |

`FORMATS` maps a format to its file suffix; `resolve_format` picks the format of a build from
`--format` or the output's suffix.
"""
from __future__ import annotations

import os
import pathlib
import stat

from ..errors import EdgepackError

FORMATS = {"ptl": ".ptl", "pte": ".pte"}


def resolve_format(opts) -> str:
    """`--format` when given (it must agree with an `-o` suffix that names a format), else the
    `-o` suffix, else ptl."""
    suffix = pathlib.Path(opts.output).suffix.lower() if opts.output else ""
    by_suffix = next((f for f, s in FORMATS.items() if s == suffix), None)
    if opts.format is not None:
        if opts.format not in FORMATS:
            raise EdgepackError(f"--format must be one of {', '.join(FORMATS)}")
        if by_suffix is not None and by_suffix != opts.format:
            raise EdgepackError(f"--format {opts.format} with an output named {suffix}: "
                                f"name the output {FORMATS[opts.format]} or drop --format")
        return opts.format
    return by_suffix or "ptl"


def format_of_file(path) -> str:
    """The format of an existing model file, from its first bytes (the suffix can lie). Paths that
    are not regular files are never opened here (opening a FIFO blocks until a writer comes): the
    suffix decides, and the format's reader refuses them with its one-line error."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return FORMATS_BY_SUFFIX.get(pathlib.Path(path).suffix.lower(), "ptl")
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return FORMATS_BY_SUFFIX.get(pathlib.Path(path).suffix.lower(), "ptl")
    if head[4:6] == b"ET":  # ExecuTorch flatbuffer identifier "ET12" at offset 4
        return "pte"
    return "ptl"


FORMATS_BY_SUFFIX = {s: f for f, s in FORMATS.items()}
