"""compositing.imaging: uploads are validated by decoding; results carry no metadata."""

from __future__ import annotations

import contextlib
import io
import threading
import warnings

import cv2
import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms

from compositing import mattes
from compositing.imaging import (
    BACKGROUND_FORMATS,
    PHOTO_FORMATS,
    alpha_to_png,
    encode_image,
    load_image,
    png_to_alpha,
)
from tests.compositing_core.factories import (
    LIMITS,
    astronaut,
    encode,
    png_declaring,
    quadrants,
)
from vbgsite import errors

# ------------------------------------------------------------------------------ bad input


def test_zero_byte_file_is_invalid_image():
    with pytest.raises(errors.InvalidImage) as caught:
        load_image(b"", **LIMITS)
    assert caught.value.code == "invalid_image"
    assert caught.value.http_status == 400
    assert "empty" in caught.value.message


def test_text_file_is_invalid_image_not_unsupported_type():
    with pytest.raises(errors.InvalidImage) as caught:
        load_image(b"name,email\nada,ada@example.com\n" * 20, **LIMITS)
    assert type(caught.value) is errors.InvalidImage


def test_truncated_jpeg_is_invalid_image():
    whole = encode(astronaut(), "JPEG", quality=90)
    with pytest.raises(errors.InvalidImage) as caught:
        load_image(whole[: len(whole) // 2], **LIMITS)
    assert type(caught.value) is errors.InvalidImage


def test_truncated_png_is_invalid_image():
    whole = encode(astronaut(), "PNG")
    with pytest.raises(errors.InvalidImage):
        load_image(whole[: len(whole) * 2 // 3], **LIMITS)


def test_jpeg_signature_followed_by_garbage_is_invalid_image():
    garbage = b"\xff\xd8\xff\xe0" + np.random.default_rng(1).bytes(5000)
    with pytest.raises(errors.InvalidImage):
        load_image(garbage, **LIMITS)


def test_decompression_bomb_is_refused_from_its_header():
    bomb = png_declaring(100_000, 100_000)  # 10 gigapixels declared in 70 bytes
    assert len(bomb) < 100
    with pytest.raises(errors.ImageTooLarge) as caught:
        load_image(bomb, **LIMITS)
    assert caught.value.code == "image_too_large"
    assert caught.value.http_status == 413


def test_bomb_between_pillows_warning_and_error_limits_is_refused_even_as_warning_error():
    bomb = png_declaring(10_000, 10_000)  # 100 MP: Pillow only warns at this size
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(errors.ImageTooLarge):
            load_image(bomb, **LIMITS)


def test_too_many_pixels_for_our_limit_is_refused_before_decoding():
    bomb = png_declaring(8_000, 8_000)  # 64 MP > 50 MP; its pixel data would not decode
    with pytest.raises(errors.ImageTooLarge) as caught:
        load_image(bomb, **LIMITS)
    assert "64 megapixels" in caught.value.message


def test_pillow_global_pixel_limit_is_left_alone():
    before = Image.MAX_IMAGE_PIXELS
    threads = [
        threading.Thread(target=_swallow, args=(png_declaring(20_000, 20_000),)) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert before == Image.MAX_IMAGE_PIXELS


def _swallow(data: bytes) -> None:
    with contextlib.suppress(errors.ImageTooLarge):
        load_image(data, **LIMITS)


def test_one_pixel_image_is_too_small():
    with pytest.raises(errors.ImageTooSmall) as caught:
        load_image(encode(Image.new("RGB", (1, 1), "red"), "PNG"), **LIMITS)
    assert caught.value.code == "image_too_small"
    assert caught.value.http_status == 400
    assert isinstance(caught.value, errors.InvalidImage)


def test_thin_strip_is_too_small():
    with pytest.raises(errors.ImageTooSmall):
        load_image(encode(Image.new("RGB", (2000, 8)), "PNG"), **LIMITS)


def test_file_over_byte_limit_is_refused():
    data = encode(astronaut(), "PNG")
    with pytest.raises(errors.FileTooLarge) as caught:
        load_image(data, **LIMITS, max_bytes=len(data) - 1)
    assert caught.value.http_status == 413
    assert load_image(data, **LIMITS, max_bytes=len(data)).size == (512, 512)


def test_gif_is_not_a_background_format():
    gif = encode(astronaut().convert("P"), "GIF")
    assert load_image(gif, **LIMITS).mode == "RGB"  # fine as a photo
    with pytest.raises(errors.UnsupportedMediaType) as caught:
        load_image(gif, **LIMITS, allowed_formats=BACKGROUND_FORMATS)
    assert caught.value.http_status == 415
    assert "GIF" in caught.value.message
    assert "JPEG, PNG or WebP" in caught.value.message


def test_heic_is_named_as_unsupported():
    heic_header = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    with pytest.raises(errors.UnsupportedMediaType) as caught:
        load_image(heic_header, **LIMITS)
    assert "HEIC" in caught.value.message


def test_format_is_sniffed_not_taken_from_a_name():
    png = encode(astronaut(), "PNG")
    upload = io.BytesIO(png)
    upload.name = "holiday.jpg"
    assert load_image(upload, **LIMITS).size == (512, 512)


def test_file_object_is_read_from_its_start():
    upload = io.BytesIO(encode(astronaut(), "JPEG"))
    upload.seek(0, io.SEEK_END)  # e.g. after Django computed its size
    assert load_image(upload, **LIMITS).size == (512, 512)


# ------------------------------------------------------------------------------ modes


def test_cmyk_jpeg_becomes_rgb_with_the_right_colours():
    red = Image.new("RGB", (64, 64), (220, 30, 30)).convert("CMYK")
    image = load_image(encode(red, "JPEG", quality=95), **LIMITS)
    assert image.mode == "RGB"
    r, g, b = image.getpixel((32, 32))
    assert r > 180 and g < 80 and b < 80


def test_sixteen_bit_grey_png_is_scaled_to_eight_bits():
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (48, 1))
    source = Image.fromarray(ramp)
    assert source.mode == "I;16"
    image = load_image(encode(source, "PNG"), **LIMITS)
    assert image.mode == "RGB"
    values = np.asarray(image)[..., 0]
    assert values[0, 0] == 0 and values[0, -1] == 255
    assert abs(int(values[0, 32]) - round(ramp[0, 32] / 257)) <= 1


def test_float_tiff_in_unit_range_is_scaled():
    ramp = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (40, 1))
    image = load_image(encode(Image.fromarray(ramp, "F"), "TIFF"), **LIMITS)
    values = np.asarray(image)[..., 1]
    assert values[0, 0] == 0 and values[0, -1] == 255


def test_thirty_two_bit_integer_image_with_sixteen_bit_values_is_scaled():
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.int32), (40, 1))
    source = Image.fromarray(ramp)
    assert source.mode == "I"
    image = load_image(encode(source, "TIFF"), **LIMITS)
    values = np.asarray(image)[..., 2]
    assert values[0, 0] == 0 and values[0, -1] == 255


def test_palette_png_with_transparency_keeps_alpha_when_asked():
    source = Image.new("P", (64, 64), 0)
    source.putpalette([0, 0, 0, 200, 40, 40] + [0, 0, 0] * 254)
    source.paste(1, (16, 16, 48, 48))
    data = encode(source, "PNG", transparency=0)

    with_alpha = load_image(data, **LIMITS, keep_alpha=True)
    assert with_alpha.mode == "RGBA"
    assert with_alpha.getpixel((0, 0))[3] == 0
    assert with_alpha.getpixel((32, 32)) == (200, 40, 40, 255)

    flat = load_image(data, **LIMITS)
    assert flat.mode == "RGB"
    assert flat.getpixel((0, 0)) == (255, 255, 255)  # transparency flattened onto white
    assert flat.getpixel((32, 32)) == (200, 40, 40)


def test_opaque_rgba_becomes_rgb_even_when_alpha_is_kept():
    data = encode(astronaut().convert("RGBA"), "PNG")
    assert load_image(data, **LIMITS, keep_alpha=True).mode == "RGB"


def test_grey_with_alpha_becomes_rgb():
    source = Image.merge("LA", (Image.new("L", (40, 40), 90), Image.new("L", (40, 40), 255)))
    image = load_image(encode(source, "PNG"), **LIMITS)
    assert image.mode == "RGB"
    assert image.getpixel((5, 5)) == (90, 90, 90)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animated_image_gives_its_first_frame(fmt):
    first = Image.new("RGB", (48, 48), (255, 0, 0))
    second = Image.new("RGB", (48, 48), (0, 0, 255))
    data = encode(first, fmt, save_all=True, append_images=[second], duration=100, loop=0)
    with Image.open(io.BytesIO(data)) as check:
        assert check.n_frames == 2
    image = load_image(data, **LIMITS)
    r, _g, b = image.getpixel((24, 24))
    assert r > 200 and b < 60


def test_exif_orientation_is_applied():
    upright = quadrants(64).resize((64, 96))  # portrait: red top-left, white bottom-right
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a sideways camera writes
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # "rotate 90 degrees clockwise to display"
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())

    image = load_image(data, **LIMITS)
    assert image.size == (64, 96)
    assert _close(image.getpixel((8, 8)), (255, 0, 0))
    assert _close(image.getpixel((56, 88)), (255, 255, 255))
    assert _close(image.getpixel((56, 8)), (0, 255, 0))


def test_malformed_exif_does_not_reject_a_good_photo():
    data = encode(astronaut(), "JPEG", exif=b"Exif\x00\x00II*\x00\xff\xff\xff\xff")
    assert load_image(data, **LIMITS).size == (512, 512)


def test_bmp_and_tiff_are_accepted_as_photos():
    for fmt in ("BMP", "TIFF"):
        assert fmt in PHOTO_FORMATS
        assert load_image(encode(astronaut(), fmt), **LIMITS).size == (512, 512)


def test_srgb_tagged_photo_is_unchanged_and_untagged_after_loading():
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(astronaut(), "PNG", icc_profile=profile)
    image = load_image(data, **LIMITS)
    assert np.array_equal(np.asarray(image), np.asarray(astronaut()))
    assert image.info == {}


# ------------------------------------------------------------------------------ encoding


def _jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCo"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 24.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 21.0, 3.0)
    return encode(astronaut(), "JPEG", quality=92, exif=exif.tobytes(), comment=b"secret")


def test_gps_jpeg_fixture_really_has_gps():
    with Image.open(io.BytesIO(_jpeg_with_gps())) as source:
        assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp"])
def test_encoded_results_carry_no_metadata(fmt):
    image = load_image(_jpeg_with_gps(), **LIMITS)
    # Even metadata attached to the image object later must not be written.
    image.info.update(
        exif=b"Exif\x00\x00leak",
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
        comment=b"secret",
    )
    data = encode_image(image, fmt)
    assert b"Exif" not in data
    assert b"secret" not in data
    assert b"PhoneCo" not in data
    with Image.open(io.BytesIO(data)) as written:
        assert not written.getexif()
        assert "icc_profile" not in written.info
        assert "exif" not in written.info


def test_png_and_webp_keep_alpha_jpeg_flattens_it():
    rgba = astronaut().convert("RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 0))
    rgba.paste((10, 20, 30, 255), (100, 100, 200, 200))
    for fmt in ("png", "webp"):
        with Image.open(io.BytesIO(encode_image(rgba, fmt))) as written:
            assert written.mode == "RGBA"
            assert written.getpixel((5, 5))[3] == 0
            assert written.getpixel((150, 150))[3] == 255
    with Image.open(io.BytesIO(encode_image(rgba, "jpg"))) as written:
        assert written.mode == "RGB"
        assert _close(written.getpixel((5, 5)), (255, 255, 255))


def test_encode_accepts_arrays_and_refuses_unknown_formats():
    array = np.asarray(astronaut())
    with Image.open(io.BytesIO(encode_image(array, "jpeg"))) as written:
        assert written.format == "JPEG"
        assert written.size == (512, 512)
    with pytest.raises(errors.InvalidOption):
        encode_image(array, "gif")


# ------------------------------------------------------------------------------ masks


def test_mask_round_trip_is_within_half_a_level():
    alpha = np.random.default_rng(0).random((90, 160), dtype=np.float32)
    data = alpha_to_png(alpha)
    with Image.open(io.BytesIO(data)) as mask:
        assert (mask.format, mask.mode, mask.size) == ("PNG", "L", (160, 90))
    restored = png_to_alpha(data, size=(160, 90))
    assert restored.dtype == np.float32
    assert np.abs(restored - alpha).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("strip_bytes", [1 << 20, 100])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 1), (317, 229), (1152, 864)])
def test_mask_png_is_a_valid_png_of_exactly_the_matte(shape, strip_bytes, monkeypatch):
    """Every decoder reads back the exact matte, whatever the size and however the rows
    fall into strips (a strip's first row is filtered against the previous strip's last)."""
    monkeypatch.setattr(mattes, "_PNG_STRIP_BYTES", strip_bytes)
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    matte = np.zeros(shape, np.uint8)
    matte[shape[0] // 3 :, shape[1] // 4 :] = 255
    band = rng.random(shape) < 0.1
    matte[band] = rng.integers(0, 256, int(band.sum()), dtype=np.uint8)
    data = alpha_to_png(matte)
    with Image.open(io.BytesIO(data)) as checked:
        checked.verify()  # chunk CRCs, the zlib stream's checksum
    with Image.open(io.BytesIO(data)) as mask:
        assert (mask.format, mask.mode, mask.size) == ("PNG", "L", shape[::-1])
        assert np.array_equal(np.asarray(mask), matte)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(decoded, matte)


def test_mask_out_of_range_values_are_clipped_not_wrapped():
    alpha = np.array([[-0.2, 0.0, 1.0, 1.3]], np.float32).repeat(4, axis=0)
    restored = png_to_alpha(alpha_to_png(alpha))
    assert restored[0].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_sixteen_bit_mask_png_is_read():
    values = np.full((20, 30), 32768, np.uint16)
    restored = png_to_alpha(encode(Image.fromarray(values), "PNG"))
    assert np.allclose(restored, 32768 / 65535)


def test_unreadable_or_wrong_size_mask_is_invalid_image():
    with pytest.raises(errors.InvalidImage):
        png_to_alpha(b"not a png")
    with pytest.raises(errors.InvalidImage):
        png_to_alpha(alpha_to_png(np.zeros((10, 10), np.float32)), size=(20, 10))


def _close(pixel, expected, tolerance: int = 40) -> bool:
    return all(abs(int(p) - int(e)) <= tolerance for p, e in zip(pixel, expected, strict=False))
