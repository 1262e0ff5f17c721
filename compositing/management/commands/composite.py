"""``manage.py composite``: the engine from the command line.

    python manage.py composite PHOTO (--background IMG | --color '#RRGGBB' | --blur |
        --transparent) -o OUT [--format jpg|png|webp] [--model NAME]

Reads PHOTO (validated by decoding, like an upload), segments the person with the
configured model, composes it over the chosen background and writes OUT (no EXIF/GPS).
Everything a person can get wrong ends in one ``CommandError`` line, and nothing is
written then: the output appears only once it is complete.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from PIL import Image

from compositing import imaging
from compositing.compose import compose_image, parse_color
from compositing.segmentation import (
    SegmentationError,
    UnknownSegmenter,
    configure,
    get_segmenter,
)
from vbgsite.errors import AppError, InvalidOption, NoPerson

# A photo "has a person" when at least this share of its pixels is confidently the person.
PERSON_MIN_FRACTION = 0.002
_EXTENSIONS = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png", ".webp": "webp"}


class Command(BaseCommand):
    help = (
        "Cut the person out of PHOTO and put them on a new background "
        "(an image, a colour, a blur of the photo's own background, or transparency)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("photo", help="the portrait (JPEG, PNG, WebP, GIF, BMP, TIFF)")
        background = parser.add_mutually_exclusive_group(required=True)
        background.add_argument(
            "--background", metavar="IMG", help="a background image (JPEG, PNG or WebP)"
        )
        background.add_argument("--color", metavar="#RRGGBB", help="a solid colour")
        background.add_argument(
            "--blur", action="store_true", help="blur the photo's own background"
        )
        background.add_argument(
            "--transparent", action="store_true", help="transparent background (PNG or WebP)"
        )
        parser.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write")
        parser.add_argument(
            "--format",
            choices=["jpg", "png", "webp"],
            help="output format (default: from OUT's extension, else jpg)",
        )
        parser.add_argument(
            "--model", help=f"segmentation model (default: {settings.VBG_SEGMENTER})"
        )
        parser.add_argument(
            "--blur-radius",
            type=float,
            metavar="PX",
            help="with --blur: Gaussian sigma in pixels (default 1.5%% of the long side)",
        )
        parser.add_argument("--quality", type=int, default=90, help="JPEG/WebP quality 1-100")
        parser.add_argument(
            "--no-decontaminate",
            action="store_true",
            help="keep the photo's colours at soft edges as they are",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._run(**options)
        except AppError as error:
            raise CommandError(error.message) from error

    def _run(self, **options: Any) -> None:
        output = Path(options["output"])
        mode = _mode(options)
        fmt = _output_format(output, options["format"], mode)
        if not 1 <= options["quality"] <= 100:
            raise InvalidOption("--quality must be between 1 and 100.")
        color = parse_color(options["color"]) if mode == "color" else None
        if options["blur_radius"] is not None and mode != "blur":
            raise InvalidOption("--blur-radius only applies with --blur.")
        if not output.parent.is_dir():
            raise InvalidOption(f"{output.parent}: no such directory.")

        timings: dict[str, float] = {}
        started = time.perf_counter()
        photo = _load(options["photo"], label="photo", allowed=imaging.PHOTO_FORMATS)
        background = None
        if mode == "image":
            background = _load(
                options["background"], label="background", allowed=imaging.BACKGROUND_FORMATS
            )
        timings["decode"] = _ms(started)

        tick = time.perf_counter()
        alpha, model_name = _segment(photo, options["model"])
        timings["segment"] = _ms(tick)
        if np.count_nonzero(alpha >= 0.5) < PERSON_MIN_FRACTION * alpha.size:
            raise NoPerson(f"{options['photo']}: {NoPerson.default_message}")

        tick = time.perf_counter()
        result = compose_image(
            photo,
            alpha,
            mode=mode,
            background=background,
            color=color,
            blur_radius=options["blur_radius"],
            decontaminate=not options["no_decontaminate"],
        )
        timings["compose"] = _ms(tick)

        tick = time.perf_counter()
        data = imaging.encode_image(result, fmt, quality=options["quality"])
        _write_atomically(output, data)
        timings["encode"] = _ms(tick)

        breakdown = ", ".join(f"{name} {value:.0f}" for name, value in timings.items())
        self.stdout.write(
            f"wrote {output} ({result.width}x{result.height} {fmt.upper()}, "
            f"{len(data) / 1024:.0f} KB, model {model_name}) in {_ms(started):.0f} ms: "
            f"{breakdown}"
        )


def _mode(options: dict[str, Any]) -> str:
    if options["background"] is not None:
        return "image"
    if options["color"] is not None:
        return "color"
    return "blur" if options["blur"] else "transparent"


def _output_format(output: Path, requested: str | None, mode: str) -> str:
    from_name = _EXTENSIONS.get(output.suffix.lower())
    if requested and from_name and requested != from_name:
        raise InvalidOption(f"--format {requested} does not match the output name {output.name!r}.")
    fmt = requested or from_name or "jpg"
    if mode == "transparent" and fmt == "jpg":
        raise InvalidOption("--transparent needs PNG or WebP output (JPEG has no alpha).")
    return fmt


def _load(path: str, *, label: str, allowed: frozenset[str]) -> Image.Image:
    try:
        with open(path, "rb") as handle:
            return imaging.load_image(
                handle,
                max_pixels=settings.VBG_MAX_IMAGE_PIXELS,
                min_side=settings.VBG_MIN_IMAGE_SIDE,
                max_bytes=settings.VBG_MAX_UPLOAD_BYTES,
                allowed_formats=allowed,
            )
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file ({label}).") from None
    except IsADirectoryError:
        raise CommandError(f"{path}: is a directory, not an image ({label}).") from None
    except PermissionError:
        raise CommandError(f"{path}: permission denied ({label}).") from None
    except AppError as error:
        raise CommandError(f"{path}: {error.message}") from error


def _segment(photo: Image.Image, model: str | None) -> tuple[np.ndarray, str]:
    """alpha float32 HxW in 0..1 for the photo, and the model's name.

    The segmentation package configured from settings (ARCHITECTURE.md: model directory,
    torch threads), the model loaded once per process.
    """
    configure(model_dir=settings.VBG_MODEL_DIR, threads=settings.VBG_TORCH_THREADS)
    try:
        segmenter = get_segmenter(model or settings.VBG_SEGMENTER)
        return segmenter.segment(photo), segmenter.name
    except UnknownSegmenter as error:
        raise CommandError(str(error)) from error
    except SegmentationError as error:
        raise CommandError(f"segmentation failed: {error}") from error


def _write_atomically(output: Path, data: bytes) -> None:
    """Write next to OUT and rename: OUT is either complete or untouched."""
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; a normal file is wanted
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000.0
