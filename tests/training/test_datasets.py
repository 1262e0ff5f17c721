"""Training data: flat NAME.jpg + NAME.png pairs and the AISegment layout; augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from compositing.segmentation.training.augmentation import Augmentation
from compositing.segmentation.training.data import (
    PairDataset,
    Sample,
    find_samples,
    read_mask,
    split_samples,
)

from .conftest import skimage_photo


def write_aisegment(root, names):
    """clip_img/<group>/clip_<n>/<name>.jpg + matting/<group>/matting_<n>/<name>.png (RGBA:
    the photo's colours, alpha = matte), as the AISegment "Matting Human" archive has it."""
    photo = skimage_photo("astronaut", max_side=64)
    matte = np.zeros(photo.shape[:2], np.uint8)
    matte[16:, 20:44] = 200  # person
    matte[16:, 44:46] = 100  # a soft edge: below 128, background
    for index, name in enumerate(names):
        clip = root / "clip_img" / "1803151818" / f"clip_0000000{index}"
        matting = root / "matting" / "1803151818" / f"matting_0000000{index}"
        clip.mkdir(parents=True)
        matting.mkdir(parents=True)
        Image.fromarray(photo).save(clip / f"{name}.jpg")
        Image.fromarray(np.dstack([photo, matte])).save(matting / f"{name}.png")
    return photo, matte


def test_aisegment_layout_pairs_clips_with_mattes_and_reads_the_alpha(tmp_path):
    _, matte = write_aisegment(tmp_path, ["1803151818-00000003", "1803151818-00000004"])
    # A clip without a matte is skipped.
    (tmp_path / "clip_img" / "1803151818" / "clip_00000000" / "orphan.jpg").write_bytes(b"x")

    samples = find_samples(tmp_path)

    assert [s.photo.stem for s in samples] == ["1803151818-00000003", "1803151818-00000004"]
    assert all(s.mask.parent.name.startswith("matting_") for s in samples)
    mask = read_mask(samples[0].mask)
    np.testing.assert_array_equal(mask, matte)  # the alpha channel, not the RGB
    _, target = PairDataset(samples, size=64)[0]
    assert target.shape == (1, 64, 64)
    assert float(target[0, 40, 30]) == pytest.approx(200 / 255, abs=0.02)
    assert float(target[0, 5, 5]) == 0.0


def test_flat_pairs_and_grey_masks(tmp_path):
    photo = skimage_photo("coffee", max_side=80)
    Image.fromarray(photo).save(tmp_path / "a.jpg")
    Image.fromarray(np.full(photo.shape[:2], 255, np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(photo).save(tmp_path / "lonely.jpg")  # no mask: skipped

    samples = find_samples(tmp_path)

    assert [s.photo.name for s in samples] == ["a.jpg"]
    assert read_mask(samples[0].mask).min() == 255


def test_empty_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training pairs"):
        find_samples(tmp_path)


def test_augmentation_is_random_but_repeatable_and_keeps_photo_and_mask_aligned(tmp_path):
    photo = skimage_photo("astronaut", max_side=128)
    mask = np.zeros(photo.shape[:2], np.uint8)
    mask[:, :64] = 255  # left half is "person"
    Image.fromarray(photo).save(tmp_path / "p.jpg", quality=98)
    Image.fromarray(mask).save(tmp_path / "p.png")
    samples = find_samples(tmp_path)
    plain = PairDataset(samples, size=64, augmentation=None)
    augmented = PairDataset(samples, size=64, augmentation=Augmentation(), seed=1, repeat=8)

    crops = [augmented[i] for i in range(8)]
    again = PairDataset(samples, size=64, augmentation=Augmentation(), seed=1, repeat=8)

    assert len(augmented) == 8
    assert all(
        torch.equal(a[0], b[0]) for a, b in zip(crops, [again[i] for i in range(8)], strict=True)
    )
    assert not all(torch.equal(crops[0][0], c[0]) for c in crops[1:])  # they differ
    assert not torch.equal(crops[0][0], plain[0][0])
    for image, target in crops:
        assert image.shape == (3, 64, 64) and target.shape == (1, 64, 64)
        assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
        # Geometry is shared: the mask stays a left or right block (flip), never scrambled.
        columns = target[0].mean(0)
        assert torch.all(columns[1:] <= columns[:-1] + 0.02) or torch.all(
            columns[1:] >= columns[:-1] - 0.02
        )
    augmented.set_epoch(1)
    assert not torch.equal(augmented[0][0], crops[0][0])  # a new epoch draws new crops


def test_validation_split_is_seeded_and_disjoint(tmp_path):
    samples = [Sample(tmp_path / f"{i}.jpg", tmp_path / f"{i}.png") for i in range(20)]
    train, val = split_samples(samples, 0.1, seed=3)
    assert len(val) == 2 and not set(train) & set(val)
    assert split_samples(samples, 0.1, seed=3) == (train, val)
    assert split_samples(samples[:5], 0.1, seed=3) == (samples[:5], [])
