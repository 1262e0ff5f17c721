"""Selecting models by name: ``ARCH``, ``ARCH:NAME``, unknown names and missing weights."""

from __future__ import annotations

import pytest

from compositing.segmentation import UnknownSegmenter, WeightsMissing, get_segmenter


def test_unknown_architecture_name_raises(model_dir):
    with pytest.raises(UnknownSegmenter, match="unknown segmenter 'resnet9000:mine'"):
        get_segmenter("resnet9000:mine")


@pytest.mark.parametrize("name", ["fcn_resnet101:../../etc", "selfie:", "selfie:a/b"])
def test_malformed_weights_names_are_unknown(model_dir, name):
    with pytest.raises(UnknownSegmenter):
        get_segmenter(name)


def test_missing_fine_tune_says_how_to_get_it(model_dir):
    with pytest.raises(WeightsMissing, match=r"my-finetune\.pt not found.*train_segmenter"):
        get_segmenter("fcn_resnet101:my-finetune")


def test_missing_published_weights_point_at_fetch_model(model_dir):
    with pytest.raises(WeightsMissing, match=r"fetch_model --torchvision fcn_resnet101"):
        get_segmenter("fcn_resnet101")
