"""Mobile graph optimisation, with a portable path where XNNPACK is missing.

`optimize_for_mobile` prepacks convolutions and linears for XNNPACK; torch >= 2.13 x86 wheels are
built without XNNPACK and hit an internal assert there. We detect the capability instead of
catching that assert, and otherwise run the XNNPACK-independent rewrites that exist as separate
passes: freeze (which folds conv+bn, conv+add/mul and inlines constants), dropout removal and
add+relu fusion.

Optimisation can also change numerics (prepacking on some families, freezing's folding on
others), so `variants()` yields progressively less aggressive versions; the build keeps the
first one whose written file validates and records what it dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, List

import torch
import torch.backends.xnnpack  # noqa: F401  (registers torch.backends.xnnpack)
from torch.utils.mobile_optimizer import MobileOptimizerType, optimize_for_mobile

OPTIMIZE_MODES = ("auto", "xnnpack", "portable", "none")


def xnnpack_available() -> bool:
    """True when this torch build can run XNNPACK (and hence optimize_for_mobile)."""
    try:
        return bool(torch.backends.xnnpack.enabled)
    except (AttributeError, RuntimeError):
        return False


@dataclass
class Variant:
    module: torch.jit.ScriptModule
    path: str  # "xnnpack", "portable" or "none"
    dropped: List[str] = field(default_factory=list)  # passes disabled relative to the full path
    passes: List[str] = field(default_factory=list)

    def describe(self) -> dict:
        return {"path": self.path, "dropped": list(self.dropped), "passes": list(self.passes)}


def portable_optimize(module: torch.jit.ScriptModule, fold: bool = True) -> torch.jit.ScriptModule:
    """Freeze + dropout removal + add/relu fusion; no XNNPACK needed."""
    frozen = torch.jit.freeze(module.eval(), optimize_numerics=fold)
    torch._C._jit_pass_remove_dropout(frozen._c)
    torch._C._jit_pass_fuse_add_relu(frozen.graph)
    return frozen


XNNPACK_PASSES = ["conv_bn_fusion", "insert_fold_prepack_ops", "remove_dropout", "fuse_add_relu",
                  "hoist_conv_packed_params", "freeze"]
XNNPACK_PASS_NAMES = {MobileOptimizerType.INSERT_FOLD_PREPACK_OPS: "insert_fold_prepack_ops",
                      MobileOptimizerType.CONV_BN_FUSION: "conv_bn_fusion"}
PORTABLE_PASSES = ["freeze", "fold_conv_bn", "fold_conv_add_mul", "remove_dropout", "fuse_add_relu"]


def variants(load: Callable[[], torch.jit.ScriptModule], mode: str = "auto") -> Iterator[Callable[[], Variant]]:
    """Makers of optimised versions of the module `load()` returns, most aggressive first; the
    caller validates each.

    Each item is a thunk so that one level failing to compile (an internal assert in a pass, say)
    only rules out that level. The order is also our speed order: XNNPACK prepacking is what
    makes a mobile CPU fast, folding saves a little, the unoptimised module is the last resort.

    Every level starts from a fresh `load()`: freezing and optimize_for_mobile register new
    classes, whose graphs hold the folded weights as constants, in the compilation unit of the
    module they start from, and nothing ever removes them. Starting from a module loaded with
    `torch.jit.load` (which gives each load its own compilation unit) lets a level's memory go
    once its module is dropped; starting from one module, each level kept another model-sized
    copy alive for the rest of the process (torch 2.12.1, measured on ResNet-50).
    """
    if mode not in OPTIMIZE_MODES:
        raise ValueError(f"optimize mode must be one of {OPTIMIZE_MODES}")
    if mode == "none":
        yield lambda: Variant(load().eval(), "none", passes=[])
        return
    if mode in ("auto", "xnnpack") and xnnpack_available():
        prepack = MobileOptimizerType.INSERT_FOLD_PREPACK_OPS
        conv_bn = MobileOptimizerType.CONV_BN_FUSION
        # First: freeze (whose conv/bn folding is exact), then optimize_for_mobile. Its own
        # CONV_BN_FUSION pass changed a ResNet-18's outputs by 9.7% in torch 2.12.1, and merely
        # blocking it leaves every BatchNorm unfused next to the prepacked convolutions
        # (scripts/conv_bn_fusion.py); folding before prepacking avoids both.
        yield lambda: Variant(optimize_for_mobile(torch.jit.freeze(load().eval())), "xnnpack",
                              passes=["freeze_fold_conv_bn"] + list(XNNPACK_PASSES))
        # Then optimize_for_mobile alone, dropping more at each step; prepacking is the speed win,
        # so dropping conv/bn fusion alone is tried before it.
        for blocked in ([], [conv_bn], [prepack], [prepack, conv_bn]):
            dropped = ["freeze_fold_conv_bn"] + [XNNPACK_PASS_NAMES[b] for b in blocked]
            yield (lambda blocked=blocked, dropped=dropped: Variant(
                optimize_for_mobile(load().eval(), set(blocked)), "xnnpack", dropped=dropped,
                passes=[p for p in XNNPACK_PASSES if p not in dropped]))
    elif mode == "xnnpack":
        raise RuntimeError("this torch build has no XNNPACK, so optimize_for_mobile cannot run")
    full = [] if mode == "portable" or not xnnpack_available() else ["insert_fold_prepack_ops"]
    yield lambda: Variant(portable_optimize(load(), fold=True), "portable", dropped=full,
                          passes=list(PORTABLE_PASSES))
    yield lambda: Variant(portable_optimize(load(), fold=False), "portable",
                          dropped=full + ["fold_conv_bn", "fold_conv_add_mul"],
                          passes=["freeze", "remove_dropout", "fuse_add_relu"])
    yield lambda: Variant(load().eval(), "none", dropped=full + ["all"], passes=[])
