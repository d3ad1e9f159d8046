"""The module that becomes the `.ptl`: preprocessing -> network -> softmax/sigmoid.

The wrappers are scripted; the network inside may be traced (the usual case) or scripted. The
same wrapper, left unscripted around the eager float network, is the reference the written file
is validated against, so validation measures what packaging changed and nothing else.
"""
from __future__ import annotations

import torch
from torch import nn

from .preprocess import ImagePreprocess

ACTIVATIONS = ("softmax", "sigmoid", "none")


def _activate(y: torch.Tensor, activation: str) -> torch.Tensor:
    if activation == "softmax":
        return torch.softmax(y.float(), dim=-1)
    if activation == "sigmoid":
        return torch.sigmoid(y.float())
    return y.float()


class ImagePipeline(nn.Module):
    """uint8 `[H, W, 3|4]` image in, `[num_classes]` probabilities (or logits) out."""

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
