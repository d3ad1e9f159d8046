"""`edgepack inspect`: what is inside a `.ptl`, and whether a phone can run it."""
from __future__ import annotations

import collections
import json
import pathlib
import zipfile
from typing import Optional

from .errors import EdgepackError
from .manifest import MANIFEST_NAME


def _zip_names(path: pathlib.Path) -> list:
    if not path.exists():
        raise EdgepackError(f"{path}: no such file")
    if path.is_dir():
        raise EdgepackError(f"{path}: is a directory")
    if path.stat().st_size == 0:
        raise EdgepackError(f"{path}: file is empty")
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise EdgepackError(f"{path}: not a TorchScript / .ptl file (not a valid zip archive: {exc})") from None


def open_artifact(path) -> Optional[dict]:
    """The manifest of a lite-interpreter file; explains full-JIT and non-TorchScript files."""
    path = pathlib.Path(path)
    names = _zip_names(path)
    if not any(n.endswith("/bytecode.pkl") for n in names):
        if any(n.endswith("/constants.pkl") for n in names):
            raise EdgepackError(
                f"{path}: full-JIT TorchScript (torch.jit.save), not a lite-interpreter file; "
                "rebuild with 'edgepack build' or save with module._save_for_lite_interpreter()"
            )
        raise EdgepackError(f"{path}: zip archive without TorchScript bytecode (not a .ptl file)")
    try:
        with zipfile.ZipFile(path) as zf:
            entry = next((n for n in names if n.endswith(f"/extra/{MANIFEST_NAME}")), None)
            if entry is None:
                return None
            return json.loads(zf.read(entry).decode("utf-8"))
    except (zipfile.BadZipFile, OSError, ValueError, UnicodeDecodeError) as exc:
        raise EdgepackError(f"{path}: corrupt manifest ({exc})") from None
