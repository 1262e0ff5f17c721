"""``manage.py train_segmenter``: training lowers the loss and raises IoU, checkpoints, resume,
unknown architectures and bad data directories."""

from __future__ import annotations

import json

import pytest
import torch
from django.core.management import CommandError, call_command

from compositing.segmentation import get_segmenter
from compositing.segmentation.training.data import PairDataset, find_samples
from compositing.segmentation.training.metrics import evaluate_model
from compositing.segmentation.training.models import build_trainable
from compositing.segmentation.weights.catalog import checkpoint_path

from .conftest import skimage_photo

pytestmark = pytest.mark.slow


def run_train(capsys, *args: str) -> dict:
    call_command("train_segmenter", *args, "--no-progress")
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("arch", "init", "size", "lr"),
    [
        ("selfie", "auto", 256, 1e-4),  # fine-tuning the default network
        ("lraspp_mobilenet_v3_large", "random", 64, 3e-3),  # a torchvision 2-class head
    ],
)
def test_training_lowers_loss_and_raises_train_iou(
    model_dir, pairs_dir, capsys, arch, init, size, lr
):
    summary = run_train(
        capsys,
        *("--arch", arch, "--init", init, "--data", str(pairs_dir), "--no-augment"),
        *("--epochs", "3", "--repeat", "2", "--batch-size", "4", "--size", str(size)),
        *("--lr", str(lr), "--out", "tuned"),
    )

    epochs = summary["epochs"]
    assert [row["epoch"] for row in epochs] == [1, 2, 3]
    assert epochs[-1]["train_loss"] < 0.9 * epochs[0]["train_loss"]
    assert epochs[-1]["train_iou"] > epochs[0]["train_iou"]
    weights = model_dir / arch / "tuned.pt"
    assert summary["model"] == f"{arch}:tuned" and summary["weights"] == str(weights)
    assert weights.is_file()


def test_fine_tuned_selfie_weights_score_better_than_the_start(model_dir, pairs_dir, capsys):
    dataset = PairDataset(find_samples(pairs_dir), size=256)
    cpu = torch.device("cpu")
    start, _ = build_trainable("selfie", model_dir=model_dir, init="auto")
    loss_before, iou_before, _ = evaluate_model(start, dataset, device=cpu)

    run_train(
        capsys,
        *("--arch", "selfie", "--data", str(pairs_dir), "--no-augment", "--size", "256"),
        *("--epochs", "2", "--repeat", "2", "--batch-size", "4", "--out", "tuned"),
    )

    tuned, source = build_trainable("selfie", model_dir=model_dir, init="tuned")
    loss_after, iou_after, _ = evaluate_model(tuned, dataset, device=cpu)
    assert source == "selfie:tuned"
    assert loss_after < loss_before
    assert iou_after > iou_before


def test_resume_continues_from_the_checkpoint(model_dir, pairs_dir, capsys):
    common = (
        *("--arch", "selfie", "--init", "random", "--data", str(pairs_dir)),
        *("--size", "64", "--batch-size", "4", "--out", "resumed", "--lr", "3e-3"),
    )
    first = run_train(capsys, *common, "--epochs", "1")
    assert [row["epoch"] for row in first["epochs"]] == [1]
    assert checkpoint_path(model_dir, "selfie", "resumed").is_file()

    second = run_train(capsys, *common, "--epochs", "3", "--resume")
    assert [row["epoch"] for row in second["epochs"]] == [1, 2, 3]
    assert second["epochs"][0] == first["epochs"][0]  # history carried over, not retrained

    # An uninterrupted 3-epoch run from the same seed ends in the same place.
    straight = run_train(capsys, *common[:-4], "--out", "straight", "--lr", "3e-3", "--epochs", "3")
    assert straight["epochs"][-1]["train_loss"] == pytest.approx(
        second["epochs"][-1]["train_loss"], rel=1e-4
    )


def test_resume_without_a_checkpoint_is_a_clear_error(model_dir, pairs_dir):
    with pytest.raises(CommandError, match="nothing to resume"):
        call_command(
            "train_segmenter",
            *("--arch", "selfie", "--data", str(pairs_dir), "--out", "none", "--resume"),
        )


def test_torchvision_head_training_runs_and_loads_as_arch_name(model_dir, pairs_dir, capsys):
    summary = run_train(
        capsys,
        *("--arch", "lraspp_mobilenet_v3_large", "--init", "random", "--data", str(pairs_dir)),
        *("--epochs", "1", "--batch-size", "4", "--size", "64", "--out", "tiny"),
    )
    assert summary["model"] == "lraspp_mobilenet_v3_large:tiny"
    segmenter = get_segmenter("lraspp_mobilenet_v3_large:tiny")
    assert segmenter.name == "lraspp_mobilenet_v3_large:tiny"
    assert segmenter.input_size == 64  # inference at the scale it was trained on
    alpha = segmenter.segment(skimage_photo("astronaut", max_side=128))
    assert alpha.shape == (128, 128) and alpha.dtype.name == "float32"


def test_unknown_architecture_is_a_clear_error(model_dir, pairs_dir):
    with pytest.raises(CommandError, match=r"unknown architecture 'resnet9000'.*fcn_resnet101"):
        call_command(
            "train_segmenter", "--arch", "resnet9000", "--data", str(pairs_dir), "--out", "x"
        )


def test_directory_without_pairs_is_a_clear_error(model_dir, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="no training pairs"):
        call_command(
            "train_segmenter", "--arch", "selfie", "--data", str(tmp_path / "empty"), "--out", "x"
        )


def test_invalid_weights_name_is_rejected(model_dir, pairs_dir):
    with pytest.raises(CommandError, match="invalid weights name"):
        call_command(
            "train_segmenter", "--arch", "selfie", "--data", str(pairs_dir), "--out", "../evil"
        )
