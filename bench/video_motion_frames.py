"""Frames of a video result at its fastest motion, before/after, as PNGs for ``docs/``.

    VBG_ALLOW_INSECURE_KEY=1 .venv/bin/python bench/video_motion_frames.py CLIP OUT.png
        [--frames 2] [--background office-lights]

Runs the clip through ``composite_video`` twice on a built-in background: the mask path
before issue 10 (whole-frame coarse mask, plain smoothing: ``MaskOptions(second_pass=False)``
with no snapping) and today's. Picks the frames where the picture changes most from the
previous frame (mean absolute luma difference: the fastest motion) and writes one PNG:
per chosen frame a row ``source | before | after``, each scaled to 480 px wide.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vbgsite.settings")
os.environ.setdefault("VBG_ALLOW_INSECURE_KEY", "1")

import django  # noqa: E402

django.setup()

from backgrounds.builtin import render  # noqa: E402
from compositing.engine import get_frame_segmenter  # noqa: E402
from compositing.video import composite_video  # noqa: E402
from compositing.video.masks import MaskOptions  # noqa: E402

PANEL_WIDTH = 480
BEFORE = MaskOptions(second_pass=False, low=0.0, high=1.0)


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def fastest(frames: list[np.ndarray], count: int) -> list[int]:
    """Indices of the ``count`` frames that differ most from their predecessor, 10 apart."""
    luma = [f.mean(axis=2) for f in frames]
    change = [0.0] + [float(np.abs(b - a).mean()) for a, b in itertools.pairwise(luma)]
    chosen: list[int] = []
    for index in np.argsort(change)[::-1]:
        if all(abs(int(index) - c) >= 10 for c in chosen):
            chosen.append(int(index))
        if len(chosen) == count:
            break
    return sorted(chosen)


def panel(rgb: np.ndarray, label: str) -> Image.Image:
    image = Image.fromarray(rgb)
    image = image.resize((PANEL_WIDTH, round(image.height * PANEL_WIDTH / image.width)))
    ImageDraw.Draw(image).text((8, 8), label, fill=(255, 255, 0))
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=int, default=2)
    parser.add_argument("--background", default="office-lights")
    args = parser.parse_args()
    segmenter = get_frame_segmenter()
    background = np.asarray(render(args.background).convert("RGB"))
    work = Path(tempfile.mkdtemp(prefix="motion-frames-"))
    results = {}
    for label, options in (("before", BEFORE), ("after", MaskOptions())):
        composite_video(
            args.clip,
            work / f"{label}.mp4",
            segmenter=segmenter,
            mode="image",
            background=background,
            crf=14,
            mask_options=options,
        )
        results[label] = decoded(work / f"{label}.mp4")
    source = decoded(args.clip)
    rows = []
    for index in fastest(source, args.frames):
        row = [panel(source[index], f"source, frame {index}")]
        row += [panel(results[k][index], f"{k}, frame {index}") for k in ("before", "after")]
        rows.append(row)
    height = sum(row[0].height for row in rows)
    sheet = Image.new("RGB", (PANEL_WIDTH * 3, height))
    top = 0
    for row in rows:
        for column, image in enumerate(row):
            sheet.paste(image, (column * PANEL_WIDTH, top))
        top += row[0].height
    sheet.save(args.out, optimize=True)
    print(f"{args.out}: frames {fastest(source, args.frames)}")


if __name__ == "__main__":
    main()
