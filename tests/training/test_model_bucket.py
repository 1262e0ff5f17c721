"""Trained and imported weights go to the bucket (S3 over HTTP, moto) and another machine
pulls them from there; without S3 nothing is uploaded."""

from __future__ import annotations

import pytest
import torch
from django.core.management import call_command

from compositing.model_store import ModelStoreError, model_import, model_pull
from compositing.segmentation import get_segmenter
from compositing.segmentation.selfie_net import selfie_segmentation_net

pytestmark = pytest.mark.s3


def train_tiny(pairs_dir, name: str) -> None:
    call_command(
        "train_segmenter",
        *("--arch", "selfie", "--data", str(pairs_dir), "--epochs", "1", "--size", "64"),
        *("--out", name, "--no-progress"),
    )


@pytest.fixture
def bucket(s3_storage, settings):
    settings.AWS_STORAGE_BUCKET_NAME = s3_storage.bucket_name
    return s3_storage


def test_trained_weights_are_uploaded_and_another_machine_pulls_them(
    model_dir, pairs_dir, bucket, tmp_path
):
    train_tiny(pairs_dir, "shared")
    local = model_dir / "selfie" / "shared.pt"
    assert bucket.keys() == ["models/selfie/shared.pt"]

    other_machine = tmp_path / "other-models"
    pulled = model_pull(model="selfie:shared", model_dir=other_machine)

    assert pulled == other_machine / "selfie" / "shared.pt"
    assert pulled.read_bytes() == local.read_bytes()


def test_retraining_replaces_the_object_in_the_bucket(model_dir, pairs_dir, bucket):
    train_tiny(pairs_dir, "again")
    first = (model_dir / "selfie" / "again.pt").read_bytes()
    call_command(
        "train_segmenter",
        *("--arch", "selfie", "--data", str(pairs_dir), "--epochs", "1", "--size", "64"),
        *("--out", "again", "--no-progress", "--seed", "5"),
    )
    second = (model_dir / "selfie" / "again.pt").read_bytes()
    assert first != second
    assert bucket.keys() == ["models/selfie/again.pt"]  # replaced, not "again_x7f3.pt"
    body = bucket.client.get_object(Bucket=bucket.bucket_name, Key="models/selfie/again.pt")
    assert body["Body"].read() == second


def test_imported_weights_are_uploaded_too(model_dir, bucket, tmp_path):
    source = tmp_path / "mine.pth"
    torch.save(selfie_segmentation_net().state_dict(), source)
    _, stored = model_import(path=source, arch="selfie", name="mine", model_dir=model_dir)
    assert stored == "models/selfie/mine.pt" and bucket.keys() == [stored]
    assert get_segmenter("selfie:mine").name == "selfie:mine"


def test_pulling_a_model_that_is_not_in_the_bucket_is_a_clear_error(model_dir, bucket):
    with pytest.raises(
        ModelStoreError, match=r"models/fcn_resnet101/nope\.pt is not in the bucket"
    ):
        model_pull(model="fcn_resnet101:nope", model_dir=model_dir)


def test_without_s3_nothing_is_uploaded(model_dir, pairs_dir, settings, list_storage_files):
    settings.AWS_STORAGE_BUCKET_NAME = ""
    train_tiny(pairs_dir, "local-only")
    assert (model_dir / "selfie" / "local-only.pt").is_file()
    assert list_storage_files() == []
    with pytest.raises(ModelStoreError, match="no bucket configured"):
        model_pull(model="selfie:local-only", model_dir=model_dir)
