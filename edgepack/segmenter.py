"""Segmentation networks edgepack trains and rebuilds: a timm encoder plus a decoder.

`SemanticSegmenter` is the LightningModule users train. Like `ImageClassifier` it saves, as
plain-data hyper-parameters, everything needed to rebuild the network from installed code
(encoder name, decoder, class count, labels, eval data config with the resize policy), so
`edgepack build seg.ckpt` needs neither the training script nor a pickled class.

Two decoders:
- "light": edgepack's own FPN-style decoder (1x1 lateral projections, top-down nearest upsample
  and add, one 3x3 conv, a 1x1 classifier) giving logits at stride 4. It is a few tens of
  thousands of weights, made of ops every mobile runtime and int8 scheme handles; the packaged
  pipeline upsamples the logits to the frame anyway, so the decoder does not.
- any segmentation_models_pytorch ("smp") architecture name (Unet, FPN, DeepLabV3Plus, ...),
  with the timm encoder through smp's "tu-" adapter; logits at the input resolution.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import pytorch_lightning as pl
import timm
import torch
import torch.nn.functional as F
from torch import nn

from .errors import EdgepackError
from .models import plain_data_config

LIGHT_DECODER = "light"
IGNORE_INDEX = 255  # mask value that marks pixels without a label (the common convention)
RESIZE_POLICIES = {"squash": "squash", "letterbox": "border"}  # policy -> bundled crop mode


def crop_mode_for(policy: str) -> str:
    return RESIZE_POLICIES[policy]


def policy_for(crop_mode: str) -> Optional[str]:
    """The resize policy a data config's crop mode means for segmentation (None: not one)."""
    return {v: k for k, v in RESIZE_POLICIES.items()}.get(crop_mode)


def segmentation_data_config(image_size: Sequence[int], resize_policy: str = "squash",
                             mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                             interpolation: str = "bilinear") -> dict:
    """The eval transform of a segmenter as a timm-style data config: the whole frame resized
    (squash, or letterbox = fit and pad with the mean colour), never cropped: crop_pct 1."""
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)[-2:]
    return plain_data_config({"input_size": [3, int(h), int(w)], "interpolation": interpolation,
                              "crop_pct": 1.0, "crop_mode": crop_mode_for(resize_policy),
                              "mean": list(mean), "std": list(std)})


class LightDecoder(nn.Module):
    """FPN-style: every encoder level projected to `channels`, merged top-down, then a 3x3 conv
    and a 1x1 classifier on the finest level used (stride 4)."""

    def __init__(self, in_channels: List[int], num_classes: int, channels: int = 64):
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in in_channels)
        self.fuse = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, features: List[torch.Tensor]) -> torch.Tensor:
        x = self.lateral[-1](features[-1])
        for i in range(len(features) - 2, -1, -1):
            lateral = self.lateral[i](features[i])
            x = F.interpolate(x, size=lateral.shape[-2:], mode="nearest") + lateral
        return self.classifier(self.fuse(x))


class TimmSegmenter(nn.Module):
    """timm encoder (`features_only`, strides 4..32) + `LightDecoder`: `[N, 3, H, W]` ->
    logits `[N, K, H/4, W/4]`."""

    size_divisor = 32

    def __init__(self, encoder: str, num_classes: int, channels: int = 64):
        super().__init__()
        probe = timm.create_model(encoder, pretrained=False, features_only=True)
        reductions = probe.feature_info.reduction()
        indices = [i for i, r in enumerate(reductions) if r >= 4]
        self.encoder = timm.create_model(encoder, pretrained=False, features_only=True, out_indices=indices)
        self.decoder = LightDecoder(self.encoder.feature_info.channels(), num_classes, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def smp_module():
    """segmentation_models_pytorch, or a one-line error naming the extra that installs it."""
    try:
        import segmentation_models_pytorch as smp
    except ImportError:
        raise EdgepackError("this source needs segmentation_models_pytorch: pip install 'edgepack[segmentation]'") from None
    return smp


def create_segmentation_network(encoder: str, decoder: str, num_classes: int,
                                decoder_channels: int = 64) -> nn.Module:
    """The network of a `SemanticSegmenter` with these settings (no weights are fetched)."""
    if decoder == LIGHT_DECODER:
        return TimmSegmenter(encoder, num_classes, decoder_channels)
    smp = smp_module()
    # encoder_weights=None: smp would otherwise download ImageNet weights for the encoder.
    return smp.create_model(decoder, encoder_name=f"tu-{encoder}", encoder_weights=None, classes=num_classes)


def confusion(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """`[K, K]` counts (rows: target, columns: prediction), pixels marked IGNORE_INDEX left out."""
    keep = target != IGNORE_INDEX
    idx = target[keep].long() * num_classes + pred[keep].long()
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_per_class(conf: torch.Tensor) -> List[Optional[float]]:
    """IoU of each class from a confusion matrix; None for a class absent from both."""
    tp = conf.diag().double()
    union = conf.sum(0).double() + conf.sum(1).double() - tp
    return [float(t / u) if u > 0 else None for t, u in zip(tp, union)]


def mean_iou(conf: torch.Tensor) -> float:
    values = [v for v in iou_per_class(conf) if v is not None]
    return sum(values) / len(values) if values else float("nan")


class SemanticSegmenter(pl.LightningModule):
    """A timm encoder with a light or smp decoder, trainable with Lightning and packaged by
    `edgepack build seg.ckpt` (the task comes from the checkpoint).

    Batches are (images `[N, 3, H, W]` normalised as `data_config` says, masks `[N, H, W]` of
    class indices, IGNORE_INDEX for unlabelled pixels); the logits are upsampled to the mask
    for the loss, as the packaged file upsamples them to the frame.
    """

    def __init__(self, encoder: str = "mobilenetv2_050", decoder: str = LIGHT_DECODER, num_classes: int = 2,
                 labels: Optional[Sequence[str]] = None, data_config: Optional[dict] = None,
                 decoder_channels: int = 64, lr: float = 2e-3, weight_decay: float = 1e-4):
        super().__init__()
        if labels is not None:
            labels = [str(label) for label in labels]
            if len(labels) != num_classes:
                raise ValueError(f"{len(labels)} labels given for num_classes={num_classes}")
        data_config = plain_data_config(data_config) if data_config is not None else segmentation_data_config(256)
        self.save_hyperparameters({"task": "segmentation", "encoder": encoder, "decoder": decoder,
                                   "num_classes": int(num_classes), "labels": labels, "data_config": data_config,
                                   "decoder_channels": int(decoder_channels), "lr": float(lr),
                                   "weight_decay": float(weight_decay)})
        self.net = create_segmentation_network(encoder, decoder, int(num_classes), int(decoder_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _loss(self, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        logits = F.interpolate(logits, size=masks.shape[-2:], mode="bilinear", align_corners=False)
        return F.cross_entropy(logits, masks.long(), ignore_index=IGNORE_INDEX), logits

    def training_step(self, batch, batch_idx):
        loss, _ = self._loss(self(batch[0]), batch[1])
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, logits = self._loss(self(batch[0]), batch[1])
        conf = confusion(logits.argmax(1), batch[1], self.hparams.num_classes)
        self.log("val_loss", loss, prog_bar=True)
        self.log("val_miou", mean_iou(conf), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
