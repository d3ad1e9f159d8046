"""Loading pickled checkpoints without running code hidden in them.

`torch.load(weights_only=True)` only rebuilds tensors and plain containers, and refuses any other
global. Real checkpoints carry a few more things: `argparse.Namespace` or `pathlib` paths in
hyper-parameters, and objects of classes that are not installed here (AutoTimm pickles its own
transform-config classes). This module

- allow-lists a short list of harmless standard types;
- turns globals from packages that are *not installed here* into inert placeholder classes,
  registered with torch's own weights-only unpickler, so those objects load as data that nothing
  ever calls (the pickled code could not run anyway: its package is absent);
- refuses every other global — anything importable here (`os.system`, `builtins.eval`,
  `subprocess.Popen`, ...) could run code — with a message naming `--trust-checkpoint`.

Full unpickling happens only with `trust=True`.
"""
from __future__ import annotations

import argparse
import enum
import importlib
import importlib.util
import io
import pathlib
import pickle
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, List

import torch

from .errors import EdgepackError, UntrustedCheckpointError
from .files import check_input_file

TRUST_HINT = "pass --trust-checkpoint only if you trust whoever made the file"


def _harmless_globals() -> list:
    """Standard types that appear in ordinary Lightning hyper-parameters and run no user code."""
    entries: list = [argparse.Namespace]
    for cls in (pathlib.PosixPath, pathlib.PurePosixPath, pathlib.WindowsPath, pathlib.PureWindowsPath):
        entries.append((cls, f"pathlib.{cls.__name__}"))
        entries.append((cls, f"pathlib._local.{cls.__name__}"))  # Python >= 3.13 module name
    for mod, name in (
        ("lightning_fabric.utilities.data", "AttributeDict"),
        ("lightning.fabric.utilities.data", "AttributeDict"),
        ("pytorch_lightning.utilities.parsing", "AttributeDict"),
    ):
        try:
            cls = getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError):
            continue
        entries.append((cls, f"{mod}.{name}"))
    return entries


class IgnoredObject:
    """Inert stand-in for a pickled object whose class is not installed here.

    It keeps the constructor arguments and state as data (so a caller can still read, say, an
    image size out of it) and has no behaviour: no pickled callable is ever invoked.
    """

    _pickled_name = "?"

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.__dict__["_args"] = args
        obj.__dict__["_state"] = None
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.__dict__["_state"] = state

    def __repr__(self) -> str:
        return f"<ignored {self._pickled_name}>"


def _placeholder(full_name: str) -> type:
    module, _, name = full_name.rpartition(".")
    cls = type(name or full_name, (IgnoredObject,), {"_pickled_name": full_name})
    cls.__module__ = module or "unknown"
    return cls


def _own_enum(full_name: str):
    """edgepack's own Enum classes are plain values: allow them."""
    module, _, name = full_name.rpartition(".")
    if module != "edgepack" and not module.startswith("edgepack."):
        return None
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return obj if isinstance(obj, type) and issubclass(obj, enum.Enum) else None


def _is_installed(full_name: str) -> bool:
    top = full_name.split(".", 1)[0]
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return True  # be conservative: treat as real code


@dataclass
class LoadedCheckpoint:
    data: Any
    ignored: List[str] = field(default_factory=list)  # globals replaced by placeholders
    trusted: bool = False


def _check_container(path: pathlib.Path) -> None:
    """Give a precise reason for files torch.load would reject obscurely."""
    size = check_input_file(path, "checkpoint").st_size
    if size == 0:
        raise EdgepackError(f"{path}: file is empty")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, zlib.error, NotImplementedError, OSError, ValueError) as exc:
            raise EdgepackError(f"{path}: corrupt or truncated checkpoint ({exc})") from None
        if any(n.endswith("/constants.pkl") or n.endswith("/bytecode.pkl") for n in names):
            raise EdgepackError(f"{path}: is a TorchScript file, not a checkpoint; use 'edgepack inspect'")
        if not any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
            raise EdgepackError(f"{path}: zip archive without torch checkpoint data (not a torch.save file)")
    elif head[:1] != b"\x80":
        raise EdgepackError(f"{path}: not a PyTorch checkpoint (unrecognised file format)")


def load_checkpoint(path, trust: bool = False) -> LoadedCheckpoint:
    """Load a torch.save / Lightning checkpoint onto the CPU, safely unless `trust` is set."""
    path = pathlib.Path(path)
    _check_container(path)
    try:
        if trust:
            return LoadedCheckpoint(torch.load(path, map_location="cpu", weights_only=False), trusted=True)
        allowed = _harmless_globals()
        ignored: List[str] = []
        try:
            with torch.serialization.safe_globals(allowed):
                unsafe = sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
        except ValueError:
            unsafe = []  # legacy (non-zip) format: the weights-only loader reports problems itself
        refused = []
        for name in unsafe:
            enum_cls = _own_enum(name)
            if enum_cls is not None:
                allowed.append((enum_cls, name))
            elif _is_installed(name):
                refused.append(name)
            else:
                allowed.append((_placeholder(name), name))
                ignored.append(name)
        if refused:
            raise UntrustedCheckpointError(
                f"{path}: refusing to unpickle {', '.join(refused)} (could run code); {TRUST_HINT}"
            )
        with torch.serialization.safe_globals(allowed):
            data = torch.load(path, map_location="cpu", weights_only=True)
        return LoadedCheckpoint(data, ignored=ignored)
    except EdgepackError:
        raise
    except pickle.UnpicklingError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UntrustedCheckpointError(f"{path}: unsafe or unsupported pickle content ({reason}); {TRUST_HINT}") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, TypeError, AttributeError,
            IndexError, UnicodeDecodeError, zipfile.BadZipFile, zlib.error, io.UnsupportedOperation) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgepackError(f"{path}: cannot read checkpoint ({reason[:200]})") from None
    except ModuleNotFoundError as exc:  # only reachable with trust=True
        raise EdgepackError(f"{path}: checkpoint needs module '{exc.name}', which is not installed") from None
