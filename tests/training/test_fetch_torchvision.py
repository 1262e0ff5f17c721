"""Fetching torchvision's published weights: a clear one-line error when the download
server cannot be reached, nothing half-written, and no download when already stored.

"Unreachable" is made real without leaving the machine: HTTPS goes through a proxy on a
closed local port, so the connection is refused at once.
"""

from __future__ import annotations

import socket

import pytest
import torch

from compositing.model_store import model_fetch_torchvision
from compositing.segmentation.errors import WeightsError
from compositing.segmentation.torchvision_nets import build_model
from compositing.segmentation.weights.checkpoint_import import import_state_dict


@pytest.fixture
def offline(monkeypatch, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # no cached download


def test_unreachable_download_is_one_clear_line_and_writes_nothing(model_dir, offline):
    with pytest.raises(WeightsError) as caught:
        model_fetch_torchvision(arch="lraspp_mobilenet_v3_large", model_dir=model_dir)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("cannot download torchvision's lraspp_mobilenet_v3_large weights")
    assert "no internet access?" in message
    assert not (model_dir / "lraspp_mobilenet_v3_large").exists()


def test_weights_already_stored_need_no_download(model_dir, offline):
    torch.manual_seed(0)
    state = build_model("lraspp_mobilenet_v3_large", num_classes=21).state_dict()
    stored = import_state_dict(
        state, model_dir=model_dir, arch="lraspp_mobilenet_v3_large", name="coco_voc", source="t"
    )
    path = model_fetch_torchvision(arch="lraspp_mobilenet_v3_large", model_dir=model_dir)
    assert path == stored
