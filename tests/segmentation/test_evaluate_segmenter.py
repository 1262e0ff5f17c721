"""``manage.py evaluate_segmenter DIR``: last line is one JSON object, with per-group scores."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from compositing.segmentation import segment
from tests.segmentation.photos import photo

KEYS = {"images", "miou_per_image", "iou_pooled", "pixel_accuracy", "mad", "ms_median", "groups"}


def write_pair(directory, name, rgb, mask):
    Image.fromarray(rgb).save(directory / f"{name}.jpg", quality=95)
    Image.fromarray(mask).save(directory / f"{name}.png")


def run(*args) -> str:
    out = io.StringIO()
    call_command("evaluate_segmenter", *map(str, args), stdout=out)
    return out.getvalue()


def test_scores_and_groups_by_prefix(segmenter_ready, tmp_path):
    astronaut = photo("astronaut", size=(256, 256))
    good = (segment(astronaut) * 255 + 0.5).astype(np.uint8)
    write_pair(tmp_path, "portrait_good", astronaut, good)
    write_pair(tmp_path, "portrait_inverted", astronaut, 255 - good)
    write_pair(
        tmp_path, "empty_grey", np.full((64, 96, 3), 128, np.uint8), np.zeros((64, 96), np.uint8)
    )

    output = run(tmp_path, "--model", "selfie")
    result = json.loads(output.strip().splitlines()[-1])

    assert set(result) >= KEYS and result["images"] == 3 and result["model"] == "selfie"
    assert set(result["groups"]) == {"portrait", "empty"}
    assert result["groups"]["empty"]["miou_per_image"] == 1.0  # nothing predicted, nothing there
    portrait = result["groups"]["portrait"]
    assert 0.4 < portrait["miou_per_image"] < 0.6  # one right, one inverted
    assert 0.4 < portrait["pixel_accuracy"] < 0.6
    assert result["ms_median"] > 0


def test_threshold_and_bad_directory_are_one_line_errors(segmenter_ready, tmp_path):
    with pytest.raises(CommandError, match="not a directory"):
        run(tmp_path / "missing")
    with pytest.raises(CommandError, match=r"no NAME\.jpg"):
        run(tmp_path)
    with pytest.raises(CommandError, match="threshold"):
        run(tmp_path, "--threshold", "0")


def test_unknown_model_is_a_command_error(segmenter_ready, tmp_path):
    with pytest.raises(CommandError, match="unknown segmenter"):
        run(tmp_path, "--model", "nope")
