"""Train the bundled example: an edgepack ImageClassifier on generated shapes, on CPU.

    python examples/train_shapes.py --out examples/shapes_regnet.ckpt

Generates the data set (examples/shapes.py), trains `regnetx_002` at 64 px with Lightning on
freshly drawn scenes each epoch, reports validation accuracy, and saves a weights-only checkpoint
(hyper-parameters + state dict, no optimizer state) that loads with `weights_only=True`.
Training uses timm's own eval transform plus a horizontal flip, so the preprocessing edgepack
bundles is the one the model was trained with.
"""
from __future__ import annotations

import argparse
import pathlib
import shutil
import sys
import time

import pytorch_lightning as pl
import timm
import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import shapes  # noqa: E402

from edgepack import ImageClassifier  # noqa: E402


class PrintEpoch(pl.Callback):
    """One line per epoch (the progress bar is off so logs stay readable in CI and files); also
    advances the scene stream so every epoch sees new images."""

    def on_train_epoch_start(self, trainer, pl_module):
        dataset = trainer.train_dataloader.dataset
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(trainer.current_epoch)

    def on_validation_epoch_end(self, trainer, pl_module):
        m = trainer.callback_metrics
        if "val_acc" in m and not trainer.sanity_checking:
            print(f"epoch {trainer.current_epoch}: val_acc={float(m['val_acc']):.4f} val_loss={float(m['val_loss']):.4f}",
                  flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="examples/shapes_regnet.ckpt")
    parser.add_argument("--data", default="examples/data/shapes")
    parser.add_argument("--backbone", default="regnetx_002")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--train-per-class", type=int, default=400)
    parser.add_argument("--val-per-class", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    pl.seed_everything(args.seed, workers=True)
    torch.set_num_threads(2)
    data = pathlib.Path(args.data)
    if data.exists():
        shutil.rmtree(data)
    t0 = time.time()
    shapes.generate(data / "train", args.train_per_class, seed=args.seed)
    shapes.generate(data / "val", args.val_per_class, seed=args.seed + 1)
    print(f"generated data in {time.time() - t0:.1f}s", flush=True)

    model = ImageClassifier(
        backbone=args.backbone,
        num_classes=len(shapes.CLASSES),
        labels=shapes.CLASSES,
        data_config={**timm.data.resolve_data_config({}, model=timm.create_model(args.backbone, num_classes=0)),
                     "input_size": (3, args.image_size, args.image_size)},
        lr=1e-3,
    )
    cfg = model.hparams.data_config
    eval_tf = timm.data.create_transform(**cfg, is_training=False)
    train_tf = transforms.Compose([transforms.RandomHorizontalFlip(), eval_tf])
    # Fresh scenes every epoch (examples/shapes.py ShapesStream); the written train/ folder is the
    # calibration and demo set, val/ is the held-out measurement.
    stream = shapes.ShapesStream(args.train_per_class * len(shapes.CLASSES), train_tf, seed=args.seed)
    train = DataLoader(stream, batch_size=32, shuffle=False, num_workers=0)
    val = DataLoader(datasets.ImageFolder(data / "val", eval_tf), batch_size=64, num_workers=0)

    trainer = pl.Trainer(max_epochs=args.epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, deterministic=True,
                         callbacks=[PrintEpoch()], enable_model_summary=False)
    t0 = time.time()
    trainer.fit(model, train, val)
    metrics = trainer.validate(model, val, verbose=False)[0]
    print(f"trained in {time.time() - t0:.0f}s; val_acc={metrics['val_acc']:.4f} val_loss={metrics['val_loss']:.4f}")
    trainer.save_checkpoint(args.out, weights_only=True)
    print(f"saved {args.out} ({pathlib.Path(args.out).stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
