"""``segment(image) -> alpha``: full resolution, any PIL mode, EXIF orientation, any size."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from compositing.segmentation import segment
from tests.segmentation.photos import iou, photo


def test_alpha_is_float32_full_resolution_and_finds_the_astronaut(segmenter_ready):
    rgb = photo("astronaut")  # 512x512, a woman in the foreground
    alpha = segment(rgb)
    assert alpha.shape == (512, 512) and alpha.dtype == np.float32
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    assert alpha[64:128, 192:288].mean() > 0.9  # face
    assert alpha[400:, 64:384].mean() > 0.9  # suit
    assert alpha[:60, :60].max() < 0.1 and alpha[:200, -100:].max() < 0.1  # background


def test_pil_image_and_array_give_the_same_alpha(segmenter_ready):
    rgb = photo("astronaut")
    np.testing.assert_array_equal(segment(Image.fromarray(rgb)), segment(rgb))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "CMYK", "L", "I;16", "I", "F", "1", "YCbCr"])
def test_every_pil_mode_is_accepted(segmenter_ready, mode):
    rgb = photo("astronaut", size=(256, 256))
    image = Image.fromarray(rgb)
    if mode == "I;16":
        grey = np.asarray(image.convert("L")).astype(np.uint16) * 257
        image = Image.fromarray(grey)  # uint16 -> mode "I;16"
    else:
        image = image.convert(mode)
    alpha = segment(image)
    assert alpha.shape == (256, 256) and alpha.dtype == np.float32
    if mode not in ("1", "P"):  # dithered/quantised copies still find most of the person
        assert iou(alpha, segment(rgb)) > 0.8, mode


def test_sixteen_bit_grey_is_scaled_not_clipped(segmenter_ready):
    grey = np.asarray(Image.fromarray(photo("astronaut", size=(256, 256))).convert("L"))
    as_16bit = Image.fromarray(grey.astype(np.uint16) * 257)
    assert as_16bit.mode == "I;16"
    np.testing.assert_allclose(segment(as_16bit), segment(Image.fromarray(grey)), atol=1e-5)


def test_transparent_pixels_are_not_a_person(segmenter_ready):
    rgba = np.dstack([photo("astronaut", size=(256, 256)), np.full((256, 256), 255, np.uint8)])
    rgba[:, :128, 3] = 0  # left half fully transparent
    alpha = segment(Image.fromarray(rgba, "RGBA"))
    assert alpha[:, :100].mean() < alpha[:, 156:].mean()


def test_exif_orientation_is_honoured(segmenter_ready):
    rgb = photo("astronaut", size=(300, 200))  # landscape pixels...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...shown rotated 90° clockwise: upright it is 200x300
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=95, exif=exif)
    opened = Image.open(io.BytesIO(buffer.getvalue()))

    alpha = segment(opened)

    assert alpha.shape == (300, 200)
    upright = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).rotate(-90, expand=True))
    assert iou(alpha, segment(upright)) > 0.98


@pytest.mark.parametrize("size", [(32, 32), (33, 47), (1, 1), (3, 2), (4000, 30)])
def test_tiny_and_extreme_sizes_do_not_crash(segmenter_ready, size):
    rgb = photo("astronaut", size=size)
    alpha = segment(rgb)
    assert alpha.shape == (size[1], size[0])
    assert np.isfinite(alpha).all()


@pytest.mark.slow
def test_fifty_megapixel_photo(segmenter_ready):
    small = photo("astronaut", size=(864, 576))
    big = np.asarray(Image.fromarray(small).resize((8660, 5773), Image.NEAREST))
    alpha = segment(big)
    assert alpha.shape == (5773, 8660)
    reduced = np.asarray(Image.fromarray(alpha).resize((864, 576), Image.BILINEAR))
    assert iou(reduced, segment(small)) > 0.95


@pytest.mark.parametrize("size", [(1, 1), (37, 300), (640, 128), (513, 129)])
def test_rgb_photos_become_exactly_their_pixels(size):
    """An RGB photo reaches the model as an array of exactly its pixels (copied in strips
    of rows, whatever the height), writable and C-contiguous."""
    from compositing.segmentation.image_input import image_to_rgb

    rng = np.random.default_rng(size[0])
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    rgb = image_to_rgb(Image.fromarray(pixels))
    assert rgb.dtype == np.uint8 and rgb.flags.c_contiguous and rgb.flags.writeable
    assert np.array_equal(rgb, pixels)


def test_the_matte_is_the_same_when_the_guide_is_made_beside_the_network(segmenter_ready):
    from concurrent.futures import ThreadPoolExecutor

    from compositing.segmentation import get_segmenter

    def two_threads(work, items):
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(work, item) for item in reversed(list(items))]:
                future.result()

    segmenter = get_segmenter("selfie")
    rgb = photo("astronaut", size=(600, 800))
    alone = segmenter.segment_rgb(rgb, matte=True)
    shared = segmenter.segment_rgb(rgb, matte=True, runner=two_threads)
    np.testing.assert_array_equal(shared, alone)
    assert 0 < alone.mean() < 255
