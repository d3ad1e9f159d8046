"""The example data generator's pixel masks (groundwork for segmentation, #13 item 7): exact,
aligned with the drawn shape, deterministic, and without changing the classifier's images."""
from __future__ import annotations

import hashlib
import random

import numpy as np
from PIL import Image, ImageFilter

import shapes  # tests/conftest.py puts examples/ on sys.path


def test_classifier_images_are_unchanged():
    """examples/shapes_regnet.ckpt and the test fixtures were made from these exact pixels."""
    h = hashlib.sha256()
    rng = random.Random(5)
    for i in range(12):
        h.update(np.asarray(shapes.draw_shape(shapes.CLASSES[i % 6], rng, shapes.random_size(rng))).tobytes())
    assert h.hexdigest() == "aa335b14691ed38b6e34f4eb3627f2313b00b6718dd80a5c5f4762fea9b46137"


def test_mask_is_exactly_where_the_shape_is():
    rng = random.Random(11)
    for i in range(36):
        label = shapes.CLASSES[i % 6]
        img, mask = shapes.draw_scene(label, rng, shapes.random_size(rng, (96, 200)))
        m = np.asarray(mask)
        assert img.size == mask.size and mask.mode == "L"
        assert set(np.unique(m)) == {0, shapes.CLASSES.index(label) + 1}
        # Deep inside the mask (5 px from its edge, beyond any blur) the image is the shape's one
        # solid colour; a shifted or wrong mask would take in the noisy background.
        interior = np.asarray(mask.filter(ImageFilter.MinFilter(11))) > 0
        if label != "ring":
            assert interior.sum() > 20, (label, m.shape)
        inside = np.asarray(img)[interior if interior.sum() > 20 else m > 0].reshape(-1, 3)
        colours, counts = np.unique(inside, axis=0, return_counts=True)
        fill = colours[counts.argmax()]
        if interior.sum() > 20:  # (a thin, blurred ring band may have no unblurred pixel left)
            assert len(colours) == 1, (label, len(colours))
        # ... and right outside it, the background is mostly not that colour
        band = (np.asarray(mask.filter(ImageFilter.MaxFilter(15))) > 0) & ~(m > 0)
        outside = np.asarray(img)[band].reshape(-1, 3)
        assert (outside != fill).any(axis=1).mean() > 0.5, label


def test_generate_segmentation_writes_pairs_deterministically(tmp_path):
    a = shapes.generate_segmentation(tmp_path / "a", count=8, seed=3)
    b = shapes.generate_segmentation(tmp_path / "b", count=8, seed=3)
    names = sorted(p.name for p in (a / "images").iterdir())
    assert names == sorted(p.name for p in (a / "masks").iterdir()) and len(names) == 8
    for name in names:
        for sub in ("images", "masks"):
            assert (a / sub / name).read_bytes() == (b / sub / name).read_bytes()
        assert Image.open(a / "images" / name).size == Image.open(a / "masks" / name).size
    labels = [int(np.asarray(Image.open(a / "masks" / n)).max()) for n in names]
    assert labels == [i % 6 + 1 for i in range(8)]
