"""Train the bundled segmentation example: an edgepack SemanticSegmenter on generated shapes, on CPU.

    python examples/train_segmenter.py --out examples/shapes_segmenter.ckpt

The scenes are the classifier's (examples/shapes.py) with the exact pixel mask the generator
knows (0 = background, i + 1 = CLASSES[i]). The network is `mobilenetv2_050` with edgepack's
light decoder, fed 128x128 squashed frames; training resizes frames exactly as the packaged file
does (uint8, antialiased bilinear, through `edgepack.preprocess.ImagePreprocess`) and masks with
nearest neighbour. Every epoch draws fresh scenes; the held-out set is written to
`examples/segmentation/` (images/ + masks/), which `make demo` and the tests use as --val.
Reports the mIoU of the eager model at each frame's own resolution (logits upsampled to the
frame, as the packaged file computes it) and saves a weights-only checkpoint.
"""
from __future__ import annotations

import argparse
import pathlib
import random
import shutil
import sys
import time

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import shapes  # noqa: E402

from edgepack.images import read_image  # noqa: E402
from edgepack.preprocess import ImagePreprocess, PreprocessConfig  # noqa: E402
from edgepack.segmenter import SemanticSegmenter, confusion, iou_per_class, mean_iou, segmentation_data_config  # noqa: E402
from edgepack.seg_validate import read_mask  # noqa: E402

LABELS = ["background"] + shapes.CLASSES


class SceneStream(Dataset):
    """Fresh (image, mask) scenes for every index and epoch, at the network's input size."""

    def __init__(self, length: int, preprocess: ImagePreprocess, seed: int = 0):
        self.length, self.preprocess, self.seed, self.epoch = length, preprocess, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        rng = random.Random((self.seed * 1_000_003 + self.epoch) * 10_000_019 + index)
        img, mask = shapes.draw_scene(rng.choice(shapes.CLASSES), rng, shapes.random_size(rng, (64, 160)))
        if rng.random() < 0.5:
            img, mask = (m.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for m in (img, mask))
        frame = torch.from_numpy(np.asarray(img).copy())
        with torch.no_grad():
            x = self.preprocess(frame)[0]
        target = F.interpolate(torch.from_numpy(np.asarray(mask).copy())[None, None].float(),
                               size=x.shape[-2:], mode="nearest")[0, 0].long()
        return x, target


class PrintEpoch(pl.Callback):
    def on_train_epoch_start(self, trainer, pl_module):
        trainer.train_dataloader.dataset.set_epoch(trainer.current_epoch)

    def on_train_epoch_end(self, trainer, pl_module):
        loss = trainer.callback_metrics.get("train_loss")
        print(f"epoch {trainer.current_epoch}: train_loss={float(loss):.4f}", flush=True)


def frame_miou(model: torch.nn.Module, preprocess: ImagePreprocess, root: pathlib.Path) -> tuple:
    """mIoU over the held-out set, masks at each frame's resolution (eager float model)."""
    total = torch.zeros(len(LABELS), len(LABELS), dtype=torch.int64)
    model.eval()
    with torch.no_grad():
        for path in sorted((root / "images").glob("*.png")):
            frame = read_image(path)
            logits = model(preprocess(frame))
            up = F.interpolate(logits, size=frame.shape[:2], mode="bilinear", align_corners=False)
            total += confusion(up[0].argmax(0), read_mask(root / "masks" / path.name, frame.shape[:2]), len(LABELS))
    return mean_iou(total), iou_per_class(total)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="examples/shapes_segmenter.ckpt")
    parser.add_argument("--val-dir", default="examples/segmentation")
    parser.add_argument("--encoder", default="mobilenetv2_050")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--train-scenes", type=int, default=1500)
    parser.add_argument("--val-scenes", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    pl.seed_everything(args.seed, workers=True)
    torch.set_num_threads(2)
    val_dir = pathlib.Path(args.val_dir)
    if val_dir.exists():
        # regenerated from the seed; only a folder this script wrote (images/ + masks/ of PNGs) is removed
        entries = {p.name for p in val_dir.iterdir()}
        pngs = all(p.suffix == ".png" for sub in ("images", "masks") if (val_dir / sub).is_dir()
                   for p in (val_dir / sub).iterdir())
        if not (entries <= {"images", "masks"} and pngs):
            sys.exit(f"{val_dir}: exists and is not a generated images/ + masks/ folder; choose another --val-dir")
        shutil.rmtree(val_dir)
    shapes.generate_segmentation(val_dir, args.val_scenes, seed=args.seed + 1)

    data_config = segmentation_data_config(args.image_size, "squash", interpolation="bilinear")
    model = SemanticSegmenter(args.encoder, "light", len(LABELS), labels=LABELS, data_config=data_config, lr=3e-3)
    preprocess = ImagePreprocess(PreprocessConfig.from_data_config(data_config)).eval()
    train = DataLoader(SceneStream(args.train_scenes, preprocess, args.seed), batch_size=32, num_workers=0)
    trainer = pl.Trainer(max_epochs=args.epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[PrintEpoch()])
    t0 = time.time()
    trainer.fit(model, train)
    miou, ious = frame_miou(model, preprocess, val_dir)
    print(f"trained in {time.time() - t0:.0f}s; held-out mIoU {miou:.4f} over {args.val_scenes} scenes "
          f"(per class: {', '.join(f'{n} {v:.3f}' for n, v in zip(LABELS, ious) if v is not None)})")
    trainer.save_checkpoint(args.out, weights_only=True)
    print(f"saved {args.out} ({pathlib.Path(args.out).stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
