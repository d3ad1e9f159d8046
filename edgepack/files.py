"""Small file helpers shared by the build, the benchmark and the source loaders (no torch import)."""
from __future__ import annotations

import hashlib
import os
import stat

from .errors import EdgepackError


def sha256_file(path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (checkpoints can be GBs)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_input_file(path, what: str = "file") -> os.stat_result:
    """Refuse, with one line, an input that cannot be read as a regular file.

    Missing paths and folders get their usual messages; FIFOs, sockets and devices are refused
    before anything opens them (opening a FIFO blocks until a writer appears, and a device may
    never end); a file without read permission says so instead of surfacing as a traceback or
    as a misleading "corrupt file". Returns the file's stat.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise EdgepackError(f"{path}: no such file") from None
    except NotADirectoryError:
        raise EdgepackError(f"{path}: no such file (a parent is not a folder)") from None
    except OSError as exc:
        raise EdgepackError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise EdgepackError(f"{path}: is a directory, expected a {what}")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a plain file")
        raise EdgepackError(f"{path}: is {kind}, expected a regular {what} file")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise EdgepackError(f"{path}: cannot read the {what}: permission denied") from None
    except OSError as exc:
        raise EdgepackError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    return st


def write_text_atomic(path, text: str) -> None:
    """Write `path` whole or not at all: a temporary file beside it, then a rename. An interrupted
    run leaves the previous version (or nothing), never half a file. OSError -> EdgepackError."""
    path = os.fspath(path)
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise EdgepackError(f"{path}: cannot write ({exc.strerror or exc})") from None


def check_output_target(out) -> None:
    """Refuse an output path that names something other than a regular file (or a symlink to
    one): a FIFO, a socket, a device such as /dev/null, or a link to one. --force replaces
    files, never those: writing would hang or do nothing, and replacing them breaks the system."""
    try:
        st = os.stat(out)  # follows symlinks: a link to /dev/null is a device here
    except (FileNotFoundError, NotADirectoryError):
        return  # free (or a dangling symlink, which --force may replace)
    except OSError as exc:
        raise EdgepackError(f"{out}: cannot check the output path ({exc.strerror or exc})") from None
    if stat.S_ISREG(st.st_mode):
        return
    kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
            else "a socket" if stat.S_ISSOCK(st.st_mode)
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file")
    via = " (through a symlink)" if os.path.islink(out) else ""
    raise EdgepackError(f"{out}: is {kind}{via}, not a regular file; edgepack writes model files only to "
                        "regular files, and --force does not replace anything else: choose another -o path")
