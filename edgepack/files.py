"""Small file helpers shared by the build, the benchmark and the source loaders (no torch import)."""
from __future__ import annotations

import hashlib


def sha256_file(path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (checkpoints can be GBs)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
