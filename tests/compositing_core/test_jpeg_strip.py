"""An uploaded JPEG kept without its metadata: the same pixels, no EXIF/GPS/XMP/comment,
nothing after the end of the image; anything unusual is left to a re-encode (None)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from compositing.jpeg_strip import jpeg_without_metadata

XMP = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>secret place</x:xmpmeta>"


def portrait() -> Image.Image:
    return Image.fromarray(skdata.astronaut())


def jpeg(image: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def with_gps(**options) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 30.0)  # GPSLatitude
    return jpeg(portrait(), exif=exif.tobytes(), comment=b"my flat", xmp=XMP, **options)


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize(
    "options",
    [
        {"quality": 90},
        {"quality": 95, "progressive": True},
        {"quality": 85, "restart_marker_blocks": 1},  # RSTn markers in the scan
        {"quality": 80, "subsampling": 0, "optimize": True},
    ],
)
def test_same_pixels_and_no_metadata(options):
    original = with_gps(**options)
    stripped = jpeg_without_metadata(original)
    assert stripped is not None
    assert np.array_equal(pixels(stripped), pixels(original))
    assert b"PhoneMaker" not in stripped and b"secret place" not in stripped
    assert b"my flat" not in stripped
    with Image.open(io.BytesIO(stripped)) as image:
        assert not image.getexif()
        assert "comment" not in image.info and "xmp" not in image.info
    assert len(stripped) < len(original)
    assert stripped.endswith(b"\xff\xd9")


def test_a_clean_file_is_returned_byte_for_byte():
    clean = jpeg(portrait(), quality=90)  # JFIF (APP0) only: nothing to remove
    assert jpeg_without_metadata(clean) == clean


def test_data_after_the_end_of_image_is_dropped():
    original = jpeg(portrait(), quality=90)
    appended = original + b"PK\x03\x04 a zip file hidden after the image" + b"\xff\xd9"
    assert jpeg_without_metadata(appended) == original


def test_adobe_segment_is_kept():
    cmyk = jpeg(portrait().convert("CMYK"), quality=90)  # Pillow writes an Adobe APP14
    stripped = jpeg_without_metadata(cmyk)
    assert stripped is not None and b"Adobe" in stripped
    assert np.array_equal(pixels(stripped), pixels(cmyk))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-2],  # no end of image
        lambda data: data[: len(data) // 2],  # cut in the scan
        lambda data: data[:30],  # cut in the headers
        lambda data: b"\x89PNG" + data[4:],  # not a JPEG
        lambda data: data[:2] + b"\x00" + data[2:],  # a stray byte between segments
        lambda data: data[:2] + b"\xff\xe1\x00\x01" + data[2:],  # impossible length
        lambda data: data[:2] + b"\xff\xe1\xff\xf0" + data[2:],  # past the end
        lambda data: b"",
    ],
)
def test_malformed_files_are_left_to_a_re_encode(damage):
    assert jpeg_without_metadata(damage(jpeg(portrait(), quality=90))) is None


def test_a_comment_between_progressive_scans_is_not_carried():
    original = jpeg(portrait(), quality=90, progressive=True)
    second_scan = original.index(b"\xff\xda", original.index(b"\xff\xda") + 2)
    hidden = original[:second_scan] + b"\xff\xfe\x00\x08secret" + original[second_scan:]
    assert jpeg_without_metadata(hidden) is None


def _end_byte_by_byte(data: bytes, position: int) -> int | None:
    """The scan's end found one byte at a time, as the JPEG rules are written: 0xFF00 and
    RST0-7 are data, 0xFF fill repeats, EOI ends, APPn/COM refuse, other markers are
    segments stepped over by their length."""
    while position + 1 < len(data):
        if data[position] != 0xFF:
            position += 1
            continue
        marker = data[position + 1]
        if marker == 0x00 or 0xD0 <= marker <= 0xD7:
            position += 2
        elif marker == 0xFF:
            position += 1
        elif marker == 0xD9:
            return position + 2
        elif 0xE0 <= marker <= 0xEF or marker == 0xFE or position + 4 > len(data):
            return None
        else:
            length = int.from_bytes(data[position + 2 : position + 4], "big")
            if length < 2:
                return None
            position += 2 + length
    return None


def test_the_scan_search_agrees_with_the_byte_rules_on_random_streams():
    from compositing.jpeg_strip import _end_of_image

    rng = np.random.default_rng(7)
    # Bytes drawn mostly from the ones the rules treat specially, so every case meets.
    special = np.array([0xFF, 0x00, 0xD0, 0xD7, 0xD8, 0xD9, 0xDA, 0xC4, 0xE1, 0xFE, 0x01, 0x05])
    ends = set()
    for _ in range(3000):
        size = int(rng.integers(0, 40))
        stream = np.where(
            rng.random(size) < 0.7, rng.choice(special, size), rng.integers(0, 256, size)
        )
        data = bytes(stream.astype(np.uint8))
        start = int(rng.integers(0, 3))
        expected = _end_byte_by_byte(data, start)
        assert _end_of_image(data, start) == expected, data.hex()
        ends.add(expected is None)
    assert ends == {True, False}  # streams that end and streams that are refused
