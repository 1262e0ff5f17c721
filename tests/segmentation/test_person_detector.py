"""The ported person and face detectors: parity with the reference runtime, anchors and
decoding, and the "is there a person" rule on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from compositing.segmentation.person_detector import (
    FACE_ANCHORS,
    FACE_THRESHOLD,
    PERSON_ANCHORS,
    decode_boxes,
    detector_inputs,
    letterbox,
    non_max_suppression,
    person_present,
    ssd_anchors,
)
from tests.segmentation.photos import photo as photo_array

PORTRAITS_DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "portraits-dev"


def photo(name: str) -> Image.Image:
    return Image.fromarray(photo_array(name))


@pytest.fixture
def detector(segmenter_ready):
    from compositing.segmentation import get_person_detector

    try:
        return get_person_detector()
    except Exception as exc:  # weights of an older fetch: fetch_model converts them
        pytest.skip(f"detector weights unavailable: {exc}")


def test_anchor_counts_match_the_networks():
    assert len(ssd_anchors(*FACE_ANCHORS)) == 896
    assert len(ssd_anchors(*PERSON_ANCHORS)) == 2254
    anchors = ssd_anchors(128, (8,), (2,))
    assert np.allclose(anchors[:3], [[0.5 / 16, 0.5 / 16]] * 2 + [[1.5 / 16, 0.5 / 16]])


def test_decode_and_nms():
    anchors = np.array([[0.5, 0.5], [0.5, 0.5], [0.1, 0.1]], np.float32)
    raw = np.array([[0, 0, 64, 32], [2, 0, 64, 32], [0, 0, 10, 10]], np.float32)
    boxes = decode_boxes(raw, anchors, 128)
    assert np.allclose(boxes[0], [0.25, 0.375, 0.75, 0.625])
    kept = non_max_suppression(boxes, np.array([0.9, 0.8, 0.7]), min_score=0.5)
    assert kept == [0, 2]  # the second box overlaps the first


@pytest.mark.parametrize("kind", ["face", "person"])
def test_parity_with_reference_runtime(detector, selfie_model_dir, kind):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    from compositing.segmentation.weights.catalog import (
        FACE_DETECTOR,
        PERSON_DETECTOR,
        source_path,
    )

    spec, net = (
        (FACE_DETECTOR, detector.face_net)
        if kind == "face"
        else (PERSON_DETECTOR, detector.person_net)
    )
    source = source_path(spec, selfie_model_dir)
    if not source.is_file():
        pytest.skip("the detector's .tflite source is not kept here")
    for name in ("astronaut", "coffee"):
        tensor, _ = letterbox(photo(name), net.input_size)
        interpreter = interpreter_module.Interpreter(model_path=str(source))
        interpreter.allocate_tensors()
        interpreter.set_tensor(
            interpreter.get_input_details()[0]["index"], tensor.permute(0, 2, 3, 1).numpy()
        )
        interpreter.invoke()
        outputs = sorted(interpreter.get_output_details(), key=lambda d: d["shape"][-1])
        reference_scores = interpreter.get_tensor(outputs[0]["index"])[0, :, 0]
        reference_boxes = interpreter.get_tensor(outputs[1]["index"])[0]
        with torch.inference_mode():
            scores, boxes = net(tensor)
        assert np.abs(scores[0].numpy() - reference_scores).max() < 2e-3
        assert np.abs(boxes[0].numpy() - reference_boxes).max() < 5e-3


@pytest.mark.parametrize("name", ["cat", "coffee", "coins", "grass", "rocket", "retina", "logo"])
def test_photos_without_people_are_refused(detector, name):
    assert not person_present(detector.evidence(photo(name)))


@pytest.mark.parametrize("name", ["astronaut", "camera"])
def test_photos_with_people_are_accepted(detector, name):
    evidence = detector.evidence(photo(name))
    assert person_present(evidence)
    assert evidence.people or evidence.faces


def test_a_small_full_body_person_is_accepted(detector):
    # The astronaut shrunk into a wide real background: a small person, face ~10 px.
    person = photo("astronaut").resize((96, 96))
    scene = photo("grass").convert("RGB").resize((640, 480))
    scene.paste(person, (400, 300))
    assert detector.evidence(scene).person_score > detector.evidence(photo("grass")).person_score


@pytest.mark.skipif(not PORTRAITS_DEV.is_dir(), reason="portraits-dev is not on this machine")
def test_portraits_dev_photos_are_accepted(detector):
    for path in sorted(PORTRAITS_DEV.glob("*.jpg"))[:5]:
        assert person_present(detector.evidence(Image.open(path))), path.name


def test_a_confident_face_decides_without_the_person_detector(detector, monkeypatch):
    portrait = photo("astronaut")
    assert detector.evidence(portrait).face_score >= FACE_THRESHOLD
    calls = {"face": 0, "person": 0}
    runtime = detector.runtime

    def counted(kind):  # the network of ``kind`` still runs
        calls[kind] += 1
        return runtime(kind)

    monkeypatch.setattr(detector, "runtime", counted)
    assert detector.present(portrait)
    assert (calls["face"], calls["person"]) == (1, 0)
    assert not detector.present(photo("coffee"))  # no face: the person detector decides
    assert (calls["face"], calls["person"]) == (2, 1)


def test_frozen_runtimes_score_like_the_modules(detector):
    inputs = detector_inputs(photo("astronaut"))
    for kind, net, tensor in (
        ("face", detector.face_net, inputs.face),
        ("person", detector.person_net, inputs.person),
    ):
        with torch.inference_mode():
            frozen_scores, frozen_boxes = detector.runtime(kind)(tensor)
            scores, boxes = net(tensor)
        assert torch.equal(frozen_scores, scores) and torch.equal(frozen_boxes, boxes), kind


@pytest.mark.parametrize("name", ["astronaut", "camera", "cat", "coffee", "grass", "logo"])
def test_present_decides_like_the_rule_on_all_evidence(detector, name):
    assert detector.present(photo(name)) == person_present(detector.evidence(photo(name)))


def test_detector_inputs_keep_the_letterbox_of_each_size():
    wide = photo("coffee").resize((900, 300))
    inputs = detector_inputs(wide)
    person, person_fit = letterbox(wide, 224)
    assert torch.equal(inputs.person, person)  # the person input is exactly letterbox's
    assert inputs.person_fit == person_fit
    face, face_fit = letterbox(wide, 128)
    assert inputs.face_fit == face_fit and inputs.face.shape == face.shape == (1, 3, 128, 128)
    rows = (inputs.face[0] > -1).any(dim=0).any(dim=1).nonzero().ravel()
    assert (int(rows[0]), int(rows[-1]) + 1) == (face_fit.top, face_fit.top + 43)  # 300/900*128
    assert (inputs.face - face).abs().mean() < 0.05  # the same picture, resampled once more


def test_a_photo_and_its_pixels_give_the_detectors_the_same_inputs():
    picture = photo("astronaut").resize((600, 800))
    from_image, from_pixels = detector_inputs(picture), detector_inputs(np.asarray(picture))
    assert torch.equal(from_image.person, from_pixels.person)
    assert torch.equal(from_image.face, from_pixels.face)


def test_the_resize_is_pillows_bilinear_filter_to_a_level():
    picture = photo("astronaut").resize((864, 1152))
    inputs = detector_inputs(picture)
    fit = inputs.person_fit
    pillow = np.asarray(picture.resize(fit.fitted_size, Image.Resampling.BILINEAR), np.float32)
    ours = (
        inputs.person[0]
        .permute(1, 2, 0)
        .numpy()[fit.top : fit.top + pillow.shape[0], fit.left : fit.left + pillow.shape[1]]
    )
    assert np.abs((ours + 1.0) * 127.5 - pillow).max() <= 1.0 + 1e-4
    assert float(inputs.person[0, :, :, : fit.left].max()) == -1.0  # black letterbox


def test_a_big_pillow_photo_is_box_reduced_first_and_keeps_its_own_fit(monkeypatch):
    from compositing.segmentation import person_detector

    picture = photo("astronaut").resize((1800, 2400))
    whole = detector_inputs(np.asarray(picture))
    monkeypatch.setattr(person_detector, "REDUCE_ABOVE_PIXELS", 1_000_000)
    reduced = detector_inputs(picture)  # reduce(5): 360x480, then the same resize
    assert reduced.person_fit == whole.person_fit and reduced.face_fit == whole.face_fit
    assert (reduced.person - whole.person).abs().mean() < 0.02  # a level or two, on average
