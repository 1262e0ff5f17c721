"""Trained weights saved by ``train_segmenter`` load back in a fresh process (as a web
worker would load ``VBG_SEGMENTER=ARCH:NAME``) and give identical outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from compositing.segmentation import get_segmenter

from .conftest import skimage_photo

BASE_DIR = Path(__file__).resolve().parents[2]

CHILD = """
import sys, numpy as np, torch
from PIL import Image
from compositing.segmentation import configure, get_segmenter
model_dir, model, photo_path, out_path = sys.argv[1:5]
configure(model_dir=model_dir, threads=2)
segmenter = get_segmenter(model)
photo = np.asarray(Image.open(photo_path).convert("RGB"))
probability = segmenter.probability(torch.from_numpy(photo.copy())).numpy()
np.savez(out_path, alpha=segmenter.segment(photo), probability=probability, name=segmenter.name)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arch", "extra"),
    [
        ("selfie", ("--size", "128")),
        ("lraspp_mobilenet_v3_large", ("--init", "random", "--size", "64")),
    ],
)
def test_trained_weights_give_identical_outputs_in_a_fresh_process(
    model_dir, pairs_dir, tmp_path, arch, extra
):
    call_command(
        "train_segmenter",
        *("--arch", arch, "--data", str(pairs_dir), "--epochs", "1", "--batch-size", "4"),
        *extra,
        *("--out", "reload-me", "--no-progress"),
    )
    model = f"{arch}:reload-me"
    photo = skimage_photo("astronaut", max_side=200)
    photo_path = tmp_path / "photo.png"
    Image.fromarray(photo).save(photo_path)
    import torch

    segmenter = get_segmenter(model)
    here_alpha = segmenter.segment(photo)
    here_probability = segmenter.probability(torch.from_numpy(photo.copy())).numpy()

    out_path = tmp_path / "child.npz"
    subprocess.run(
        [sys.executable, "-c", CHILD, str(model_dir), model, str(photo_path), str(out_path)],
        cwd=BASE_DIR,
        check=True,
        timeout=300,
    )
    child = np.load(out_path)
    assert str(child["name"]) == model
    assert here_probability.std() > 0  # a real output, not a constant
    np.testing.assert_array_equal(child["probability"], here_probability)
    np.testing.assert_array_equal(child["alpha"], here_alpha)
