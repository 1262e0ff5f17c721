"""``manage.py composite``: bad input ends in one clear line and writes nothing; good input
writes a metadata-free composite with the person kept and the background replaced."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import ExifTags, Image

from tests.compositing_core.factories import astronaut, coffee, encode


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


@pytest.fixture
def files(work: Path) -> dict[str, Path]:
    """A real portrait with EXIF GPS, a background, and bad files, on disk."""
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    contents = {
        "photo.jpg": encode(astronaut(), "JPEG", quality=92, exif=exif.tobytes()),
        "background.jpg": encode(coffee(), "JPEG", quality=90),
        "background.gif": encode(coffee().convert("P"), "GIF"),
        "notes.txt": b"not an image\n" * 10,
        "truncated.jpg": encode(astronaut(), "JPEG")[:3000],
        "empty.jpg": b"",
        "tiny.png": encode(Image.new("RGB", (1, 1)), "PNG"),
    }
    paths = {}
    for name, data in contents.items():
        paths[name] = work / name
        paths[name].write_bytes(data)
    return paths


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("composite", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def assert_fails(*args: str, match: str) -> None:
    with pytest.raises(CommandError, match=match) as caught:
        run(*args)
    assert "\n" not in str(caught.value)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("notes.txt", "not an image"),
        ("truncated.jpg", "corrupt or truncated"),
        ("empty.jpg", "empty"),
        ("tiny.png", "1x1 pixels"),
    ],
)
def test_bad_photo_is_one_clear_line_and_nothing_is_written(files, work, name, match):
    output = work / "out.jpg"
    assert_fails(files[name], "--color", "#00ff00", "-o", output, match=match)
    assert not output.exists()
    assert sorted(p.name for p in work.iterdir()) == sorted(files)  # no temp files


def test_missing_photo(files, tmp_path):
    assert_fails(tmp_path / "nope.jpg", "--blur", "-o", tmp_path / "o.jpg", match="no such file")


def test_gif_background_is_refused_as_unsupported(files, tmp_path):
    assert_fails(
        files["photo.jpg"],
        "--background",
        files["background.gif"],
        "-o",
        tmp_path / "o.jpg",
        match="GIF files are not accepted",
    )


def test_bad_colour(files, tmp_path):
    assert_fails(files["photo.jpg"], "--color", "teal", "-o", tmp_path / "o.jpg", match="#RRGGBB")


def test_transparent_needs_png_or_webp(files, tmp_path):
    assert_fails(files["photo.jpg"], "--transparent", "-o", tmp_path / "o.jpg", match="PNG or WebP")


def test_format_must_match_the_output_name(files, tmp_path):
    assert_fails(
        files["photo.jpg"], "--blur", "-o", tmp_path / "o.png", "--format", "jpg", match="match"
    )


def test_output_directory_must_exist(files, tmp_path):
    assert_fails(
        files["photo.jpg"], "--blur", "-o", tmp_path / "missing" / "o.jpg", match="no such dir"
    )


def test_one_background_choice_is_required(files, tmp_path):
    with pytest.raises(CommandError, match="one of the arguments"):
        run(files["photo.jpg"], "-o", tmp_path / "o.jpg")
    with pytest.raises(CommandError, match="not allowed with"):
        run(files["photo.jpg"], "--blur", "--transparent", "-o", tmp_path / "o.png")


# ------------------------------------------------------------------------------ with the model


def _person_pixels(photo: np.ndarray, result: np.ndarray) -> float:
    """Share of the astronaut's body (rows 220-480, columns 160-320) the result kept."""
    centre = (slice(220, 480), slice(160, 320))
    same = np.abs(photo[centre].astype(int) - result[centre][..., :3].astype(int)).max(axis=2) < 30
    return float(same.mean())


@pytest.mark.slow
def test_background_image_composite_keeps_the_person_and_strips_gps(
    files, tmp_path, segmenter_ready
):
    output = tmp_path / "out.jpg"
    message = run(files["photo.jpg"], "--background", files["background.jpg"], "-o", output)
    assert f"wrote {output}" in message
    data = output.read_bytes()
    assert b"Exif" not in data
    with Image.open(output) as result:
        assert (result.format, result.size) == ("JPEG", (512, 512))
        pixels = np.asarray(result)
    photo = np.asarray(astronaut())
    assert _person_pixels(photo, pixels) > 0.85
    # The top-right corner (behind the astronaut: the flag and space) is now coffee.
    corner = (slice(0, 60), slice(452, 512))
    assert np.abs(pixels[corner].astype(int) - photo[corner].astype(int)).mean() > 30


@pytest.mark.slow
def test_transparent_png_has_alpha(files, tmp_path, segmenter_ready):
    output = tmp_path / "cut.png"
    run(files["photo.jpg"], "--transparent", "-o", output)
    with Image.open(output) as result:
        assert result.mode == "RGBA"
        alpha = np.asarray(result.getchannel("A"))
    assert alpha[200:400, 200:320].mean() > 200  # the astronaut's body
    assert alpha[0:40, 470:512].mean() < 60  # space behind her


@pytest.mark.slow
def test_colour_and_blur_write_webp_and_png(files, tmp_path, segmenter_ready):
    run(files["photo.jpg"], "--color", "#1E90FF", "-o", tmp_path / "blue.webp")
    run(files["photo.jpg"], "--blur", "--format", "png", "-o", tmp_path / "blur.png")
    with Image.open(tmp_path / "blue.webp") as blue:
        assert blue.format == "WEBP"
    with Image.open(tmp_path / "blur.png") as blurred:
        assert blurred.format == "PNG"


@pytest.mark.slow
def test_photo_without_a_person_is_a_clear_error(tmp_path, segmenter_ready):
    ramp = np.linspace(40, 220, 640, dtype=np.float32)
    sky = np.stack([ramp * 0.5, ramp * 0.7, np.full_like(ramp, 230)], axis=-1)
    landscape = tmp_path / "sky.jpg"
    landscape.write_bytes(
        encode(Image.fromarray(np.repeat(sky[None], 480, 0).astype(np.uint8)), "JPEG")
    )
    output = tmp_path / "o.jpg"
    assert_fails(landscape, "--blur", "-o", output, match="No person")
    assert not output.exists()


def test_unknown_model_is_named(files, tmp_path):
    assert_fails(
        files["photo.jpg"],
        "--blur",
        "-o",
        tmp_path / "o.jpg",
        "--model",
        "no-such-model",
        match="no-such-model",
    )
