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
