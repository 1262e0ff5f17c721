"""``fetch_model --import / --torchvision / --pull`` from the command line, and a composite
made with ``VBG_SEGMENTER=ARCH:NAME`` records that model."""

from __future__ import annotations

import io
import socket

import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from PIL import Image

from compositing.segmentation import get_segmenter
from compositing.segmentation.weights.catalog import SELFIE_GENERAL
from compositing.segmentation.weights.mediapipe import load_weights

from .conftest import skimage_photo


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("fetch_model", *args, stdout=out)
    return out.getvalue()


def test_import_of_a_torchvision_checkpoint_makes_the_bare_arch_name_work(model_dir, tmp_path):
    torch.manual_seed(0)
    from torchvision.models import segmentation

    model = segmentation.lraspp_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=21
    )
    checkpoint = tmp_path / "lraspp_mobilenet_v3_large-d234d4ea.pth"
    torch.save(model.state_dict(), checkpoint)

    output = run(
        *("--import", str(checkpoint), "--arch", "lraspp_mobilenet_v3_large"),
        *("--name", "coco_voc"),
    )

    assert "imported lraspp_mobilenet_v3_large:coco_voc" in output
    assert get_segmenter("lraspp_mobilenet_v3_large").person_class == 15


def test_import_needs_arch_and_name(model_dir, tmp_path):
    with pytest.raises(CommandError, match="--import needs --arch ARCH and --name NAME"):
        run("--import", str(tmp_path / "x.pth"))


def test_import_of_an_unknown_architecture_is_one_clear_line(model_dir, tmp_path):
    (tmp_path / "x.pth").write_bytes(b"")
    with pytest.raises(CommandError, match=r"^unknown architecture 'vgg16'; choose one of: "):
        run("--import", str(tmp_path / "x.pth"), "--arch", "vgg16", "--name", "x")


def test_torchvision_fetch_offline_is_one_clear_line(model_dir, monkeypatch, tmp_path):
    with socket.socket() as sock:  # HTTPS through a proxy on a closed local port: refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for name in ("https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    with pytest.raises(CommandError) as caught:
        run("--torchvision", "fcn_resnet101")
    assert "\n" not in str(caught.value)
    assert "cannot download torchvision's fcn_resnet101 weights" in str(caught.value)


@pytest.mark.s3
def test_pull_from_the_bucket(model_dir, s3_storage, settings, tmp_path):
    settings.AWS_STORAGE_BUCKET_NAME = s3_storage.bucket_name
    source = tmp_path / "selfie-copy.pth"
    torch.save(load_weights(SELFIE_GENERAL, model_dir), source)
    run("--import", str(source), "--arch", "selfie", "--name", "team")
    assert s3_storage.keys() == ["models/selfie/team.pt"]

    elsewhere = tmp_path / "elsewhere"
    output = run("--pull", "selfie:team", "--model-dir", str(elsewhere))

    assert (elsewhere / "selfie" / "team.pt").is_file()
    assert "pulled selfie:team" in output


@pytest.mark.django_db
def test_a_composite_records_the_named_model_that_made_it(model_dir, settings, user, tmp_path):
    from compositing.services import composite_create

    source = tmp_path / "selfie-copy.pth"
    torch.save(load_weights(SELFIE_GENERAL, model_dir), source)  # the default, renamed
    run("--import", str(source), "--arch", "selfie", "--name", "my-finetune")
    settings.VBG_SEGMENTER = "selfie:my-finetune"
    buffer = io.BytesIO()
    Image.fromarray(skimage_photo("astronaut")).save(buffer, "JPEG")
    photo = SimpleUploadedFile("portrait.jpg", buffer.getvalue(), content_type="image/jpeg")

    composite = composite_create(user=user, photo=photo, mode="color", color="#00ff00")

    assert composite.model_name == "selfie:my-finetune"
