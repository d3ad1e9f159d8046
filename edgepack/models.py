"""The network layout edgepack trains and rebuilds: a timm backbone plus a linear head.

`TimmClassifier` is a plain `nn.Module` so that any checkpoint that stores a timm backbone under
`backbone.` and a linear classifier under `head.fc.` (edgepack's own `ImageClassifier` and
AutoTimm's) can be rebuilt from timm alone, without the training code that produced it.
`ImageClassifier` is the LightningModule users train; it saves everything needed to rebuild the
network (backbone name, class count, labels, eval data config) in its hyper-parameters.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import pytorch_lightning as pl
import timm
import torch
import torch.nn.functional as F
from torch import nn


class ClassifierHead(nn.Module):
    """Dropout + linear layer; the `fc` name matches AutoTimm's head so weights map 1:1."""

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(x))


class TimmClassifier(nn.Module):
    """timm backbone without its classifier (pooled features) followed by `ClassifierHead`."""

    def __init__(self, backbone: str, num_classes: int, dropout: float = 0.0, **backbone_kwargs: Any):
        super().__init__()
        self.backbone = timm.create_model(backbone, pretrained=False, num_classes=0, **backbone_kwargs)
        # Models with a pre-logits projection (mobilenetv3's conv_head) output head_hidden_size.
        features = getattr(self.backbone, "head_hidden_size", None) or self.backbone.num_features
        self.head = ClassifierHead(features, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def default_data_config(backbone: str, image_size: Optional[int] = None) -> dict:
    """timm's eval data config for an architecture, as plain JSON-able data."""
    model = timm.create_model(backbone, pretrained=False, num_classes=0)
    cfg = timm.data.resolve_data_config({}, model=model)
    if image_size is not None:
        cfg["input_size"] = (3, int(image_size), int(image_size))
    return plain_data_config(cfg)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def plain_data_config(cfg: dict) -> dict:
    """Keep only the eval-transform keys, as lists/floats/strings (pickle- and JSON-safe).

    Values that are not what the key needs (a string size, a NaN crop_pct, ...) are kept as they
    are, not coerced: `edgepack.preprocess.resolve_config` refuses them with the field's name
    (checkpoints are untrusted input; a coercion here would either crash or hide the problem).
    """
    out = {}
    for key in ("input_size", "interpolation", "mean", "std", "crop_pct", "crop_mode"):
        if key in cfg and cfg[key] is not None:
            value = cfg[key]
            if isinstance(value, (tuple, list)):
                if key in ("mean", "std"):
                    value = [float(v) if _is_number(v) else v for v in value]
                else:
                    value = [int(v) if _is_number(v) and float(v).is_integer() else v for v in value]
            elif key == "crop_pct" and _is_number(value):
                value = float(value)
            out[key] = value
    out.setdefault("crop_mode", "center")
    return out


class ImageClassifier(pl.LightningModule):
    """A timm backbone with a linear head, trainable with Lightning and exportable by edgepack.

    All constructor arguments are saved as hyper-parameters (plain data only, so checkpoints load
    with `torch.load(weights_only=True)`), which is what lets `edgepack build model.ckpt` rebuild
    the network with the right class count, labels and preprocessing.
    """

    def __init__(
        self,
        backbone: str = "resnet18",
        num_classes: int = 10,
        labels: Optional[Sequence[str]] = None,
        data_config: Optional[dict] = None,
        multi_label: bool = False,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        dropout: float = 0.0,
        backbone_kwargs: Optional[dict] = None,
    ):
        super().__init__()
        if labels is not None:
            labels = [str(label) for label in labels]
            if len(labels) != num_classes:
                raise ValueError(f"{len(labels)} labels given for num_classes={num_classes}")
        if data_config is None:
            data_config = default_data_config(backbone)
        else:
            data_config = plain_data_config(data_config)
        self.save_hyperparameters(
            {
                "backbone": backbone,
                "num_classes": int(num_classes),
                "labels": labels,
                "data_config": data_config,
                "multi_label": bool(multi_label),
                "lr": float(lr),
                "weight_decay": float(weight_decay),
                "dropout": float(dropout),
                "backbone_kwargs": dict(backbone_kwargs or {}),
            }
        )
        net = TimmClassifier(backbone, num_classes, dropout, **(backbone_kwargs or {}))
        # Registered directly (not as `self.net`) so state-dict keys are `backbone.*`/`head.fc.*`,
        # the same layout as AutoTimm checkpoints.
        self.backbone = net.backbone
        self.head = net.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.hparams.multi_label:
            return F.binary_cross_entropy_with_logits(logits, y.float())
        return F.cross_entropy(logits, y)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self._loss(self(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", self._loss(logits, y), prog_bar=True)
        if not self.hparams.multi_label:
            self.log("val_acc", (logits.argmax(1) == y).float().mean(), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    def to_torchscript(self, file_path=None, method: str = "trace", example_inputs=None, save_path=None,
                       example_input=None, **kwargs):
        """Export the network to TorchScript without needing a trainer.

        Lightning's own `to_torchscript` reads `self.example_input_array` and trainer state; this
        override goes through `edgepack.export_to_torchscript`, which never touches `.trainer`,
        restores train/eval mode and accepts either Lightning's (`file_path`, `example_inputs`) or
        the original feature's (`save_path`, `example_input`) argument names.
        """
        from .export import export_to_torchscript

        path = save_path if save_path is not None else file_path
        example = example_input if example_input is not None else example_inputs
        return export_to_torchscript(self, path, example_input=example, method=method, **kwargs)
