"""False accepts / false refusals of the "is there a person" rule, and its cost at 1 MP.

Runs the ported detectors (``compositing.segmentation.person_detector``) on every
scikit-image data photo (labelled by looking at them: people in ``astronaut`` and
``camera``), the portraits-dev photos and every video-dev frame (all with people), prints
one line per photo with both scores and a summary JSON last. Needs ``manage.py fetch_model``.

    .venv/bin/python bench/bench_person_check.py [--data ../shared/data] [--every 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Photos of scikit-image's data module with a person in them (the rest have none: a cat,
# coffee, coins, rocket, microscopy, text, textures, a horse silhouette ...).
SKIMAGE_PEOPLE = {"astronaut", "camera"}
SKIMAGE_PHOTOS = (
    "astronaut",
    "brain",
    "brick",
    "camera",
    "cat",
    "checkerboard",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "eagle",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "kidney",
    "lily",
    "logo",
    "microaneurysms",
    "moon",
    "page",
    "retina",
    "rocket",
    "shepp_logan_phantom",
    "text",
)


def skimage_photos():
    import skimage.data

    for name in SKIMAGE_PHOTOS:
        try:
            array = np.asarray(getattr(skimage.data, name)())
        except (ModuleNotFoundError, OSError) as exc:  # needs pooch/a download: not shipped
            print(f"skimage:{name} skipped ({type(exc).__name__})")
            continue
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        if array.dtype != np.uint8:  # brain/kidney/lily: 16-bit or float, multi-channel
            array = array.astype(np.float64)
            array = (255 * (array - array.min()) / max(np.ptp(array), 1e-9)).astype(np.uint8)
        if array.ndim == 3 and array.shape[-1] not in (3, 4):
            array = array[array.shape[0] // 2]  # a 3-D stack: its middle slice
        if array.ndim == 3 and array.shape[-1] == 4:
            array = array[..., :3]
        yield f"skimage:{name}", Image.fromarray(array), name in SKIMAGE_PEOPLE


def folder_photos(data: Path, every: int):
    for path in sorted((data / "portraits-dev").glob("*.jpg")):
        yield f"portraits-dev:{path.name}", Image.open(path), True
    for path in sorted((data / "video-dev").glob("*/frames/*.jpg"))[::every]:
        yield f"video-dev:{path.parent.parent.name}/{path.name}", Image.open(path), True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--every", type=int, default=1, help="every n-th video-dev frame")
    parser.add_argument("--model-dir", type=Path, default=Path("models"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: loaded box)")
    args = parser.parse_args()

    import torch

    from compositing.segmentation import configure, get_person_detector
    from compositing.segmentation.person_detector import person_present

    torch.set_num_threads(args.threads)
    configure(model_dir=args.model_dir, threads=args.threads)
    detector = get_person_detector()
    rows, mismatches = [], []
    for name, image, has_person in [*skimage_photos(), *folder_photos(args.data, args.every)]:
        evidence = detector.evidence(image.convert("RGB"))
        accepted = person_present(evidence)
        if detector.present(image.convert("RGB")) != accepted:  # the fast path's decision
            mismatches.append(name)
        rows.append((name, has_person, accepted, evidence.person_score, evidence.face_score))
        flag = (
            "" if accepted == has_person else ("  FALSE ACCEPT" if accepted else "  FALSE REFUSAL")
        )
        print(
            f"{name:55s} person {evidence.person_score:.3f} face {evidence.face_score:.3f}"
            f" {'accept' if accepted else 'refuse'}{flag}"
        )

    timing(detector, rows, mismatches)


def two_resizes_evidence(detector, image):
    """The check as first written (reference): the photo resized twice (224 and 128 px
    squares), both detectors always run."""
    from compositing.segmentation.person_detector import PersonEvidence, letterbox

    runs = {}
    for kind, net in (("person", detector.person_net), ("face", detector.face_net)):
        tensor, fit = letterbox(image, net.input_size)
        runs[kind] = detector._run(kind, tensor, fit)
    return PersonEvidence(runs["person"][0], runs["face"][0], runs["person"][1], runs["face"][1])


def median_ms(values: list[float]) -> float:
    return round(float(np.median(values)) * 1000, 1)


def timing(detector, rows: list[tuple], mismatches: list[str]) -> None:
    """At 1 MP, same run, interleaved: the reference check (two resizes, both detectors),
    ``present`` on a photo whose face decides (astronaut) and on one without a face (coffee:
    both detectors run), and the photo segmentation they add to. Then the summary line."""
    import os

    import skimage.data

    from compositing.segmentation import get_segmenter

    face = Image.fromarray(skimage.data.astronaut()).resize((1155, 866))  # 1.0 MP
    no_face = Image.fromarray(skimage.data.coffee()).resize((1155, 866))
    segmenter = get_segmenter("selfie")
    stages = {
        "reference_both_detectors": lambda: two_resizes_evidence(detector, face),
        "check_face_decides": lambda: detector.present(face),
        "check_no_face": lambda: detector.present(no_face),
        "segmentation": lambda: segmenter.segment(face),
    }
    for run in stages.values():
        run(), run()
    times: dict[str, list[float]] = {name: [] for name in stages}
    for _ in range(15):
        for name, run in stages.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    ms = {name: median_ms(values) for name, values in times.items()}
    people = [r for r in rows if r[1]]
    others = [r for r in rows if not r[1]]
    summary = {
        "photos_with_people": len(people),
        "false_refusals": [r[0] for r in people if not r[2]],
        "photos_without_people": len(others),
        "false_accepts": [r[0] for r in others if r[2]],
        "max_no_person_scores": {
            "person": round(max(r[3] for r in others), 3),
            "face": round(max(r[4] for r in others), 3),
        },
        "min_person_score_video_dev": round(
            min(r[3] for r in people if r[0].startswith("video-dev")), 3
        ),
        "min_best_score_portraits_dev": round(
            min(max(r[3], r[4]) for r in people if r[0].startswith("portraits-dev")), 3
        ),
        "present_vs_evidence_mismatches": mismatches,
        "ms_at_1mp": ms,
        "check_vs_reference": {
            "face_decides": round(ms["check_face_decides"] / ms["reference_both_detectors"], 3),
            "no_face": round(ms["check_no_face"] / ms["reference_both_detectors"], 3),
        },
        "check_vs_segmentation": {
            "face_decides": round(ms["check_face_decides"] / ms["segmentation"], 3),
            "no_face": round(ms["check_no_face"] / ms["segmentation"], 3),
        },
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
