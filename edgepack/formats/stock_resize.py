"""timm's eval transform built from stock ops, for runtimes with statically planned memory.

ExecuTorch (`.pte`) plans every intermediate at the upper bound of each dynamic dimension and has
no antialiased bicubic kernel, so the `.ptl` preprocessing (torch's `_upsample_*_aa` kernels on the
whole frame) cannot be reused. This module computes the same thing with ops every ExecuTorch
runtime has, and keeps every intermediate small at the maximum frame size:

- **Pillow's filters, computed in the graph.** For each output pixel, Pillow's taps (first input
  index and up to `T` weights, normalised, then rounded to its 22-bit fixed point) are computed
  from the frame's symbolic size. The crop is folded into the resize: only the output rows and
  columns that survive the centre crop (or fall inside the padded canvas) are computed.
- **Rows first, in blocks.** The output rows are split into `blocks` groups; each group gathers
  the window of input rows its taps touch (`index_select` of whole uint8 rows: plain memory copies)
  and reduces them with one matrix product ([rows, window] x [window, W*C]), which XNNPACK runs.
  The frame is never copied to float at full size: the biggest intermediate is one block's window.
- **Columns second**, as one product with a dense [W, out] weight matrix on the already reduced
  [out_h, W] rows, followed by the crop/pad fill and normalisation.
- **Rounding like Pillow**: after each pass the values are rounded half up and clamped to 0..255,
  as Pillow does with its fixed-point accumulators.

One difference from Pillow 13 is deliberate: Pillow picks the pass order from the sizes (vertical
first only when the height shrinks by more than twice as much as the width), while this runs the
vertical pass first always, since gathering whole rows is the only cheap access to a frame that is
never copied; choosing the order inside the graph needs `torch.cond`, whose branches ExecuTorch does
not delegate. The order only changes where the intermediate rounding happens: pixels are at most one
intensity level apart (scripts/measure_parity.py measures how often).
"""
from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import nn

from ..preprocess import PreprocessConfig

PRECISION = float(1 << 22)  # Pillow's PRECISION_BITS for 8-bit images
# Pillow's filter supports (Resample.c): bilinear 1, bicubic 2; nearest is handled as one tap.
SUPPORT = {"bilinear": 1.0, "bicubic": 2.0, "nearest": 0.0}


def _filter(x: torch.Tensor, mode: str) -> torch.Tensor:
    ax = x.abs()
    if mode == "bilinear":
        return (1.0 - ax).clamp(min=0.0)
    # Pillow's bicubic, a = -0.5
    a = -0.5
    near = ((a + 2.0) * ax - (a + 3.0)) * ax * ax + 1.0
    far = (((ax - 5.0) * ax + 8.0) * ax - 4.0) * a
    return torch.where(ax < 1.0, near, torch.where(ax < 2.0, far, torch.zeros_like(ax)))


def max_scale(cfg: PreprocessConfig, max_side: int) -> float:
    """The largest input/resized ratio on either axis for frames up to `max_side` px a side."""
    scale_h, scale_w = cfg.scale_size
    # Rounding the resized size makes an axis' ratio exceed the nominal one: by less than one
    # pixel in 8 on the fitted axis, and up to 2.5/2 on a letterboxed (border) short side, whose
    # resized size can be as small as 2 px.
    margin = 1.3 if cfg.crop_mode == "border" else 1.07
    return margin * max_side / max(1, min(scale_h, scale_w) - 1)


def tap_count(mode: str, scale: float) -> int:
    """Taps per output pixel Pillow uses at most for a downscale by `scale` (>= 1)."""
    if mode == "nearest":
        return 1
    support = SUPPORT[mode] * max(scale, 1.0)
    return int(math.ceil(2 * support)) + 2


def _sum_taps(weights: torch.Tensor) -> torch.Tensor:
    """Row sums [N, 1] of float64 `weights` [N, T] by folding halves: the same float64 additions in
    the same order in eager PyTorch and in ExecuTorch. (ExecuTorch's portable `sum` accumulates
    float64 at float32 precision, and an ulp of difference in a normalised weight flips its
    fixed-point rounding now and then: the validation reference would then see other pixels.)"""
    width = 1
    while width < weights.size(1):
        width *= 2
    if width != weights.size(1):
        weights = torch.cat([weights, torch.zeros(weights.size(0), width - weights.size(1), dtype=weights.dtype)], 1)
    while width > 1:
        width //= 2
        weights = weights[:, :width] + weights[:, width:]
    return weights


def _matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """`a @ b` as a batch-of-one `bmm`: ExecuTorch's XNNPACK partitioner takes `bmm` with two
    run-time operands (dynamic shapes included), but `mm` only with constant weights."""
    # reshape, not unsqueeze/squeeze: ExecuTorch turns views into aliases but copies for unsqueeze.
    out = torch.bmm(a.reshape(1, a.size(0), a.size(1)), b.reshape(1, b.size(0), b.size(1)))
    return out.reshape(a.size(0), b.size(1))


class StockResize(nn.Module):
    """uint8 `[H, W, 3|4]` -> normalised float `[1, 3, out_h, out_w]` from stock ops (see module doc)."""

    def __init__(self, cfg: PreprocessConfig, max_side: int, blocks: int = 4, channels_last: bool = False):
        super().__init__()
        self.out_h, self.out_w = int(cfg.input_size[0]), int(cfg.input_size[1])
        self.scale_h, self.scale_w = cfg.scale_size
        self.crop_mode = cfg.crop_mode
        self.mode = cfg.interpolation
        self.max_side = int(max_side)
        self.channels_last = channels_last
        scale = max_scale(cfg, max_side)
        self.scale = max(scale, 1.0)  # bounds the input rows a block of output rows can touch
        self.margin_pct = 130 if cfg.crop_mode == "border" else 107
        self.check_windows = False
        self.taps = tap_count(self.mode, scale)
        self.blocks = max(1, int(blocks))
        mean = torch.tensor(cfg.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(cfg.std, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("mean255", mean * 255.0)
        self.register_buffer("inv_std255", 1.0 / (std * 255.0))
        fill = [float(round(255 * m)) for m in cfg.mean] if cfg.crop_mode == "border" else [0.0, 0.0, 0.0]
        self.register_buffer("fill", torch.tensor(fill, dtype=torch.float32).view(1, 3, 1, 1))

    # --- sizes, as timm computes them, in tensor arithmetic (the frame size is symbolic) -------
    def _resized(self, h: torch.Tensor, w: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        sh = float(self.scale_h)
        sw = float(self.scale_w)
        if self.crop_mode == "squash":
            return torch.full_like(h, sh), torch.full_like(w, sw)
        if self.crop_mode == "center" and self.scale_h == self.scale_w:
            # torchvision Resize(int): shorter side to s, the longer one truncated.
            portrait = w <= h
            rh = torch.where(portrait, torch.floor(sh * h / w), torch.full_like(h, sh))
            rw = torch.where(portrait, torch.full_like(w, sw), torch.floor(sw * w / h))
            return rh, rw
        ratio_h = h / sh
        ratio_w = w / sw
        ratio = torch.maximum(ratio_h, ratio_w) if self.crop_mode == "border" else torch.minimum(ratio_h, ratio_w)
        # torch.round is half-to-even, like Python's round in timm's ResizeKeepRatio.
        return torch.round(h / ratio).clamp(min=1.0), torch.round(w / ratio).clamp(min=1.0)

    @staticmethod
    def _offset(resized: torch.Tensor, out: int) -> torch.Tensor:
        """Index of output pixel 0 in the resized image: the centre crop's offset (half to even,
        as torchvision rounds it) or minus the padding."""
        crop = torch.round((resized - out) / 2.0)
        pad = torch.floor((out - resized) / 2.0)
        return torch.where(resized >= out, crop, -pad)

    def _taps(self, n: torch.Tensor, resized: torch.Tensor, out: int):
        """(first input index [out] int64, weights [out, T] float32, valid [out] bool) per axis."""
        y = torch.arange(out, dtype=torch.float64) + self._offset(resized, out)
        valid = (y >= 0) & (y < resized)
        scale = n / resized
        center = (y + 0.5) * scale
        t = torch.arange(self.taps, dtype=torch.float64)
        if self.mode == "nearest":
            first = torch.clamp(torch.floor(center), min=0.0)
            first = torch.minimum(first, n - 1.0)
            weights = torch.ones(out, 1, dtype=torch.float64)
        else:
            fscale = torch.clamp(scale, min=1.0)
            support = SUPPORT[self.mode] * fscale
            first = torch.clamp(torch.floor(center - support + 0.5), min=0.0)
            count = torch.minimum(torch.floor(center + support + 0.5), n) - first
            x = first.unsqueeze(1) + t.unsqueeze(0)
            weights = _filter((x - center.unsqueeze(1) + 0.5) / fscale, self.mode)
            weights = torch.where(t.unsqueeze(0) < count.unsqueeze(1), weights, torch.zeros_like(weights))
            total = _sum_taps(weights)
            weights = weights / torch.where(total == 0.0, torch.ones_like(total), total)
            # Pillow's fixed point: round half away from zero to 22 fractional bits.
            weights = torch.trunc(weights * PRECISION + torch.where(weights < 0, -0.5, 0.5)) / PRECISION
        weights = torch.where(valid.unsqueeze(1), weights, torch.zeros_like(weights))
        return first.to(torch.int64), weights.to(torch.float32), valid

    @staticmethod
    def _round8(x: torch.Tensor) -> torch.Tensor:
        return torch.floor(x + 0.5).clamp(0.0, 255.0)

    def taps_for(self, scale_num, scale_den: int):
        """Pillow's tap count for a scale of at most scale_num / scale_den (symbolic)."""
        if self.mode == "nearest":
            return 1
        support = int(SUPPORT[self.mode])
        # 2 * ceil(support * max(scale, 1)) + 1, with the same rounding margin as the span
        return 2 * torch.sym_max((support * scale_num * self.margin_pct) // (100 * scale_den) + 1, support) + 2

    def _scale_bound(self, h: int, w: int, axis: int):
        """(numerator, denominator) bounding the input/resized ratio on `axis` for an h x w frame."""
        sh, sw = int(self.scale_h), int(self.scale_w)
        if self.crop_mode == "squash":
            return (h, sh) if axis == 0 else (w, sw)
        if self.crop_mode == "border":  # longest side fitted: the larger ratio on both axes
            return torch.sym_max(h * sw, w * sh), sh * sw
        return torch.sym_min(h * sw, w * sh), sh * sw  # shorter side fitted: the smaller ratio

    def _row_pass(self, rows: torch.Tensor, n: int, first: torch.Tensor, weights: torch.Tensor,
                  valid: torch.Tensor, out: int, chain: torch.Tensor, blocks: int, scale_num, scale_den: int):
        """Resample the rows of uint8 `rows` [n, K] to [out, K] uint8 with per-output-row taps.

        Output rows are done in blocks: each block gathers the window of input rows its taps touch
        and reduces it with one matrix product ([rows, window] x [window, K]) that XNNPACK runs.
        `chain` makes each block's gather depend (times zero) on the previous block's result:
        without it the XNNPACK partitioner fuses all blocks into one delegate call, and every
        block's float window is then alive at once, which multiplies the planned memory."""
        blocks = max(1, min(blocks, out))
        per_block = -(-out // blocks)
        window = min(self.max_side, int(math.ceil((per_block - 1) * self.scale)) + self.taps + 2)
        # Rows a block really touches for this frame, from its symbolic size: (per_block - 1) x its
        # scale (bounded by scale_num / scale_den with a margin for rounding) + taps. Memory is
        # planned for `window`; only `length` rows are gathered, converted and multiplied.
        length = torch.sym_min(((per_block - 1) * scale_num * self.margin_pct) // (100 * scale_den)
                               + self.taps_for(scale_num, scale_den) + 3, window)
        positions = torch.arange(length, dtype=torch.int64)
        taps = torch.arange(self.taps, dtype=torch.int64).unsqueeze(0)
        big = torch.full_like(first, 1 << 30)
        parts = []
        for lo in range(0, out, per_block):
            hi = min(out, lo + per_block)
            f = first[lo:hi]
            w = weights[lo:hi]
            v = valid[lo:hi]
            start = torch.where(v, f, big[lo:hi]).min()
            start = torch.where(start >= (1 << 30), torch.zeros_like(start), start) + chain
            index = torch.clamp(start + positions, max=n - 1)
            gathered = rows.index_select(0, index)
            if gathered.dtype != torch.float32:
                gathered = gathered.to(torch.float32)
            # The block's [rows, taps] weights placed at their window positions: [rows, window].
            at = ((f - start).unsqueeze(1) + taps).clamp(min=0)
            at = torch.where(w != 0.0, at, torch.zeros_like(at))
            if self.check_windows:  # tests: a tap outside the window would be folded in silently
                assert int(at.max()) < length, f"tap {int(at.max())} outside a window of {length} rows"
            at = at.clamp(max=length - 1)
            # Exact arithmetic, so that eager PyTorch (the validation reference) and XNNPACK round
            # every pixel the same way whatever order they sum in: the 22-bit fixed-point weight
            # k is split into three small integer digits (k = d2 * 2^14 + d1 * 2^7 + d0), each
            # product and partial sum with the 0..255 pixels is an integer below 2^24, and the
            # digits' sums are recombined by scaling with powers of two.
            rows_b = hi - lo
            k = torch.round(w * PRECISION)
            d2 = torch.round(k / 16384.0)
            rest = k - d2 * 16384.0
            d1 = torch.round(rest / 128.0)
            d0 = rest - d1 * 128.0
            digits = torch.cat([d2, d1, d0], 0)
            placed = torch.zeros(3 * rows_b, length, dtype=torch.float32).scatter_add(1, at.repeat(3, 1), digits)
            sums = _matmul(placed, gathered)  # [3 * rows, K]
            value = ((sums[2 * rows_b:] / 128.0 + sums[rows_b:2 * rows_b]) / 128.0 + sums[:rows_b]) / 256.0
            # Rounded to 0..255 integers, as Pillow's intermediate image is; kept in float, since a
            # dtype conversion runs on ExecuTorch's (slow, portable) kernels, not in XNNPACK.
            part = self._round8(value)
            chain = part[0, 0:1].to(torch.int64) * 0
            parts.append(part)
        return torch.cat(parts, 0), chain

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h_int = image.size(0)
        w_int = image.size(1)
        c_int = image.size(2)
        h = torch.scalar_tensor(h_int, dtype=torch.float64)
        w = torch.scalar_tensor(w_int, dtype=torch.float64)
        rh, rw = self._resized(h, w)
        first_h, weights_h, valid_h = self._taps(h, rh, self.out_h)
        first_w, weights_w, valid_w = self._taps(w, rw, self.out_w)

        # Vertical pass over the frame's rows, then the horizontal pass as a second vertical pass
        # over the (small) transposed result: both gather whole rows, the cheap access pattern.
        rows = image.reshape(h_int, w_int * c_int)
        chain = torch.zeros(1, dtype=torch.int64)
        vertical, chain = self._row_pass(rows, h_int, first_h, weights_h, valid_h, self.out_h, chain,
                                         self.blocks, *self._scale_bound(h_int, w_int, 0))
        across = vertical.reshape(self.out_h, w_int, c_int).permute(1, 0, 2).reshape(w_int, self.out_h * c_int)
        both, chain = self._row_pass(across, w_int, first_w, weights_w, valid_w, self.out_w, chain,
                                      max(1, self.blocks // 2), *self._scale_bound(h_int, w_int, 1))
        # [out_w, out_h, C] -> [1, 3, out_h, out_w]; RGB of RGBA by index_select, since slicing a
        # dynamic channel count would specialise it.
        rgb = torch.arange(3, dtype=torch.int64)
        out = both.reshape(self.out_w, self.out_h, c_int).index_select(2, rgb)
        out = out.permute(2, 1, 0).reshape(1, 3, self.out_h, self.out_w)

        inside = (valid_h.unsqueeze(1) & valid_w.unsqueeze(0)).unsqueeze(0).unsqueeze(0)
        out = torch.where(inside, out, self.fill)
        out = (out - self.mean255) * self.inv_std255
        # The runtime only checks a frame's element count against the planned capacity, so a frame
        # with a side beyond max_side can still run, with windows too small for its scale. It
        # cannot raise from inside the graph either: poison the result with NaN instead of
        # answering wrongly. Callers check the manifest's max_side first (predict, the app).
        too_big = (h > float(self.max_side)) | (w > float(self.max_side))
        zero = h * 0.0
        # NaN as 0/0 at run time: a NaN constant in the program breaks ExecuTorch's JSON-based reader.
        out = out + torch.where(too_big, zero / zero, zero).to(torch.float32)
        # The permuted layout above would otherwise leak out (elementwise ops keep it).
        return out.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
