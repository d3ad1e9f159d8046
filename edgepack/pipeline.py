"""The module that becomes the `.ptl`: preprocessing -> network -> softmax/sigmoid (or, for
`--task embedding`, pooled features -> L2 normalisation).

The wrappers are scripted; the network inside may be traced (the usual case) or scripted. The
same wrapper, left unscripted around the eager float network, is the reference the written file
is validated against, so validation measures what packaging changed and nothing else.
"""
from __future__ import annotations

import torch
from torch import nn

from .preprocess import ImagePreprocess

ACTIVATIONS = ("softmax", "sigmoid", "none", "l2norm")
L2_EPS = 1e-12  # torch.nn.functional.normalize's default eps


def l2_normalize(y: torch.Tensor) -> torch.Tensor:
    """`torch.nn.functional.normalize(y, p=2, dim=-1)`: y / max(||y||, 1e-12), so a zero vector
    stays zero (no NaN). Written with elementwise ops and a sum, which every runtime edgepack
    targets has as stock kernels (the lite interpreter of torch 2.1, ExecuTorch's portable set)."""
    y = y.float()
    return y / torch.clamp_min(torch.sqrt((y * y).sum(-1, keepdim=True)), 1e-12)  # L2_EPS


def _activate(y: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "softmax":
        return torch.softmax(y.float(), dim=-1)
    if activation == "sigmoid":
        return torch.sigmoid(y.float())
    if activation == "l2norm":
        return l2_normalize(y)
    return y.float()


class EmbeddingNetwork(nn.Module):
    """A timm network's pooled features, `[N, D]`: timm's own `forward_features` followed by
    `forward_head(pre_logits=True)` (global pooling and any pre-logits projection such as
    mobilenetv3's conv_head, without the classifier). The L2 normalisation is the pipeline's
    activation ("l2norm"), outside the network, so int8 quantization never touches it."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True).flatten(1)


def timm_network(model: nn.Module):
    """The timm network inside a source's model (itself, or its `backbone`: edgepack's and
    AutoTimm's classifiers, a LightningModule with a timm backbone), or None."""
    for candidate in (model, getattr(model, "backbone", None)):
        if isinstance(candidate, nn.Module) and callable(getattr(candidate, "forward_features", None)) \
                and callable(getattr(candidate, "forward_head", None)):
            return candidate
    return None


class ImagePipeline(nn.Module):
    """uint8 `[H, W, 3|4]` image in, `[num_classes]` probabilities (or logits, or a `[D]` embedding) out."""

    def __init__(self, preprocess: ImagePreprocess, network: nn.Module, activation: str = "softmax"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}")
        self.preprocess = preprocess
        self.network = network
        self.activation = activation

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = self.preprocess(image)
        y = self.network(x)
        return _activate(y, self.activation)[0]


class TensorPipeline(nn.Module):
    """Normalised float `[N, 3, H, W]` in, `[N, num_classes]` out, for users who preprocess."""

    def __init__(self, network: nn.Module, activation: str = "softmax", channels_last: bool = False):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}")
        self.network = network
        self.activation = activation
        self.channels_last = channels_last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.size(1) != 3:
            raise RuntimeError("edgepack: expected a float tensor [N, 3, H, W]")
        x = x.to(torch.float32)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return _activate(self.network(x), self.activation)


class SegmentationNetwork(nn.Module):
    """A segmentation model's logits `[N, K, h, w]` whatever it returns: torchvision's models
    return a dict ("out", and "aux" when trained with an auxiliary loss), others a tensor or a
    tuple whose first item is the logits."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x)
        if isinstance(y, dict):
            return y["out"]
        if isinstance(y, (tuple, list)):
            return y[0]
        return y


class SegmentationPipeline(nn.Module):
    """uint8 `[H, W, 3|4]` frame in; out either the class-index mask `[H, W]` uint8 at the
    frame's resolution ("mask": logits upsampled bilinearly to the frame, then argmax; a
    one-channel binary model thresholds its logit at 0, i.e. probability 0.5), or the per-class
    map `[K, h, w]` at the network's output resolution ("probabilities": softmax over classes,
    sigmoid for one channel).

    Letterboxed frames (`letterbox`): the padding is cut off the logits before they are
    upsampled, so mask pixel (y, x) is frame pixel (y, x) under either resize policy. The
    resize uses the aten op directly, as ImagePreprocess does: F.interpolate's scripted body
    references every mode, which torch 2.1's lite runtime does not all have.
    """

    def __init__(self, preprocess: nn.Module, network: nn.Module, output: str = "mask", binary: bool = False,
                 letterbox: bool = False):
        super().__init__()
        if output not in ("mask", "probabilities"):
            raise ValueError("output must be mask or probabilities")
        self.preprocess = preprocess
        self.network = network
        self.output = output
        self.binary = binary
        self.letterbox = letterbox
        self.net_h = int(preprocess.out_h)
        self.net_w = int(preprocess.out_w)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        logits = self.network(self.preprocess(image)).float()
        if self.output == "probabilities":
            if self.binary:
                return torch.sigmoid(logits)[0]
            return torch.softmax(logits, dim=1)[0]
        h = image.size(0)
        w = image.size(1)
        if self.letterbox:
            logits = self.content(logits, h, w)
        up = torch._C._nn.upsample_bilinear2d(logits, [h, w], False, None)[0]
        if self.binary:
            return (up[0] > 0.0).to(torch.uint8)
        return up.argmax(0).to(torch.uint8)

    def content(self, logits: torch.Tensor, h: int, w: int) -> torch.Tensor:
        """The logits of the letterbox's picture area (the frame, without the padding)."""
        if logits.size(2) != self.net_h or logits.size(3) != self.net_w:
            logits = torch._C._nn.upsample_bilinear2d(logits, [self.net_h, self.net_w], False, None)
        size = self.preprocess.resized_size(h, w)
        top = (self.net_h - size[0]) // 2
        left = (self.net_w - size[1]) // 2
        return logits[:, :, top:top + size[0], left:left + size[1]]
