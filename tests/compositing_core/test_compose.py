"""compositing.compose: cover, the four background modes, no bleed, edge decontamination."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from compositing.compose import (
    compose,
    compose_image,
    cover,
    cover_filter,
    cover_image,
    estimate_foreground,
    parse_color,
    resize_box,
)
from compositing.compose_stats import LowRes, _premultiplied, _smooth, stats_factor
from compositing.imaging import alpha_to_uint8
from tests.compositing_core.factories import astronaut, coffee, disc_alpha, quadrants
from vbgsite import errors

# ------------------------------------------------------------------------------ cover


def _stripes(width: int, height: int, colours) -> Image.Image:
    """Vertical stripes of equal width, one per colour."""
    array = np.zeros((height, width, 3), np.uint8)
    step = width // len(colours)
    for i, colour in enumerate(colours):
        array[:, i * step : (i + 1) * step] = colour
    return Image.fromarray(array)


def test_cover_scales_to_fill_and_crops_the_centre():
    # 400x100, four 100 px stripes; covering 200x200 scales by 2 and keeps the middle 100 px.
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    out = cover(_stripes(400, 100, colours), 200, 200)
    assert out.shape == (200, 200, 3)
    assert np.array_equal(out[100, 50], [0, 255, 0])
    assert np.array_equal(out[100, 150], [0, 0, 255])
    assert not np.any(np.all(out == [255, 0, 0], axis=2))  # outer stripes cropped away
    assert not np.any(np.all(out == [255, 255, 0], axis=2))


def test_cover_never_stretches_a_circle():
    array = np.zeros((300, 600, 3), np.uint8)
    yy, xx = np.mgrid[0:300, 0:600]
    array[np.hypot(yy - 150, xx - 300) <= 40] = 255  # fits every crop below
    for width, height in [(900, 300), (200, 500), (640, 480), (100, 100)]:
        out = cover(array, width, height)
        assert out.shape == (height, width, 3)
        rows, cols = np.nonzero(out[..., 0] > 127)
        circle_height = rows.max() - rows.min() + 1
        circle_width = cols.max() - cols.min() + 1
        assert abs(circle_height - circle_width) <= 2, (width, height)


def test_cover_of_the_same_size_is_an_identical_copy():
    source = astronaut()
    out = cover_image(source, 512, 512)
    assert out is not source
    assert np.array_equal(np.asarray(out), np.asarray(source))


def test_tiny_background_is_enlarged_to_cover():
    out = cover(quadrants(32), 640, 360)
    assert out.shape == (360, 640, 3)


def test_cover_enlarges_with_bicubic_and_shrinks_with_lanczos():
    assert cover_filter((0, 0, 400, 300), (800, 600)) == Image.Resampling.BICUBIC
    assert cover_filter((0, 0, 400, 300), (400, 300)) == Image.Resampling.BICUBIC
    assert cover_filter((0, 0, 800, 600), (400, 300)) == Image.Resampling.LANCZOS
    assert cover_filter((0, 0, 800, 300), (400, 600)) == Image.Resampling.LANCZOS  # one shrinks
    # Enlarging, the quicker path (OpenCV's cubic) gives almost the same pixels as Lanczos.
    source = astronaut()
    box = (56.0, 0.0, 456.0, 512.0)
    out = np.asarray(cover_image(source, 900, 1152), np.float32)
    lanczos = source.resize((900, 1152), Image.Resampling.LANCZOS, box=box)
    assert np.abs(out - np.asarray(lanczos, np.float32)).mean() < 1.0  # a sharp photo
    smooth = source.filter(ImageFilter.GaussianBlur(3))
    out = np.asarray(cover_image(smooth, 900, 1152), np.float32)
    lanczos = smooth.resize((900, 1152), Image.Resampling.LANCZOS, box=box)
    assert np.abs(out - np.asarray(lanczos, np.float32)).mean() < 0.5


@pytest.mark.parametrize(
    "box",
    [
        (0.0, 0.0, 512.0, 512.0),  # the whole image
        (311.7, 297.3, 512.0, 512.0),  # flush with the far edges
        (0.4, 0.6, 100.9, 77.2),
    ],
)
def test_resize_box_enlarges_exactly_the_box(box):
    source = astronaut().filter(ImageFilter.GaussianBlur(2))
    size = (round((box[2] - box[0]) * 3.3), round((box[3] - box[1]) * 3.3))
    out = resize_box(source, size, box)
    assert out.size == size and out.mode == "RGB"
    expected = source.resize(size, Image.Resampling.BICUBIC, box=box)
    assert np.abs(np.asarray(out, np.float32) - np.asarray(expected, np.float32)).mean() < 0.5


# ------------------------------------------------------------------------------ modes

PHOTO = np.asarray(astronaut())
H, W = PHOTO.shape[:2]


def _hard_alpha() -> np.ndarray:
    return disc_alpha(H, W, radius=150)


def test_image_mode_keeps_the_person_and_shows_the_background_elsewhere():
    alpha = _hard_alpha()
    background = cover(coffee(), W, H)
    out = compose(PHOTO, alpha, mode="image", background=coffee())
    person, rest = alpha == 1, alpha == 0
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    assert np.array_equal(out[person], PHOTO[person])
    assert np.array_equal(out[rest], background[rest])


def test_half_alpha_is_the_average_of_photo_and_background():
    alpha = np.full((H, W), 0.5, np.float32)
    background = np.zeros_like(PHOTO)
    out = compose(PHOTO, alpha, mode="image", background=background, decontaminate=False)
    expected = PHOTO.astype(np.int16) * 128 / 255
    assert np.abs(out - expected).max() <= 1


def test_color_mode_fills_with_the_colour():
    alpha = _hard_alpha()
    out = compose(PHOTO, alpha, mode="color", color="#1E90FF")
    assert np.array_equal(out[alpha == 0][0], [0x1E, 0x90, 0xFF])
    assert np.array_equal(out[alpha == 1], PHOTO[alpha == 1])
    same = compose(PHOTO, alpha, mode="color", color=(0x1E, 0x90, 0xFF))
    assert np.array_equal(out, same)


def test_transparent_mode_gives_rgba_with_the_alpha():
    alpha = disc_alpha(H, W, radius=150, soft=20)
    out = compose(PHOTO, alpha, mode="transparent")
    assert out.shape == (H, W, 4)
    assert np.array_equal(out[..., 3], np.round(alpha * 255).astype(np.uint8))
    assert np.array_equal(out[alpha == 1][:, :3], PHOTO[alpha == 1])


def test_no_person_gives_the_background_untouched():
    out = compose(PHOTO, np.zeros((H, W), np.float32), mode="image", background=coffee())
    assert np.array_equal(out, cover(coffee(), W, H))


def test_inputs_are_not_modified():
    photo_image = astronaut()
    background = cover_image(coffee(), W, H)
    before = np.asarray(background).copy()
    alpha = disc_alpha(H, W, radius=150, soft=20)
    alpha_before = alpha.copy()
    compose_image(photo_image, alpha, mode="image", background=background)
    assert np.array_equal(np.asarray(background), before)
    assert np.array_equal(alpha, alpha_before)
    assert np.array_equal(np.asarray(photo_image), PHOTO)


def test_out_of_range_alpha_is_clipped_not_wrapped():
    alpha = np.full((H, W), 1.2, np.float32)
    alpha[:, : W // 2] = -0.3
    out = compose(PHOTO, alpha, mode="color", color=(0, 0, 0), decontaminate=False)
    assert np.array_equal(out[:, W // 2 :], PHOTO[:, W // 2 :])
    assert not out[:, : W // 2].any()


def test_uint8_alpha_and_mask_images_are_accepted():
    alpha = _hard_alpha()
    as_float = compose(PHOTO, alpha, mode="color", color=(9, 9, 9))
    as_uint8 = compose(PHOTO, (alpha * 255).astype(np.uint8), mode="color", color=(9, 9, 9))
    as_image = compose(
        PHOTO, Image.fromarray((alpha * 255).astype(np.uint8)), mode="color", color=(9, 9, 9)
    )
    assert np.array_equal(as_float, as_uint8)
    assert np.array_equal(as_float, as_image)


# ------------------------------------------------------------------------------ blur


def _red_person_on_blue() -> tuple[np.ndarray, np.ndarray]:
    """A saturated red disc ("person") on a textured blue background."""
    rng = np.random.default_rng(3)
    photo = np.zeros((360, 640, 3), np.uint8)
    photo[..., 2] = rng.integers(150, 230, (360, 640))
    photo[..., 1] = rng.integers(40, 90, (360, 640))
    alpha = disc_alpha(360, 640, radius=100)
    photo[alpha == 1] = (240, 20, 20)
    return photo, alpha


def test_blur_background_does_not_bleed_the_person():
    photo, alpha = _red_person_on_blue()
    out = compose(photo, alpha, mode="blur", blur_radius=12)
    # A ring just outside the person, well inside the blur's reach.
    ring = (disc_alpha(360, 640, radius=112) == 1) & (alpha == 0)
    red_in_ring = out[ring][:, 0].astype(np.float32)
    assert red_in_ring.mean() < 15
    # A plain blur of the whole photo would have put the red there:
    naive = np.asarray(Image.fromarray(photo).filter(ImageFilter.GaussianBlur(12)))
    assert naive[ring][:, 0].mean() > 40


def test_blur_is_actually_blurred_and_keeps_the_person_sharp():
    photo, alpha = _red_person_on_blue()
    out = compose(photo, alpha, mode="blur")
    background = alpha == 0
    assert out[background][:, 2].std() < photo[background][:, 2].std() / 4
    assert np.array_equal(out[alpha == 1], photo[alpha == 1])


def test_blur_with_everything_person_or_nothing_person_works():
    photo, _ = _red_person_on_blue()
    everything = compose(photo, np.ones(photo.shape[:2], np.float32), mode="blur")
    assert np.array_equal(everything, photo)
    nothing = compose(photo, np.zeros(photo.shape[:2], np.float32), mode="blur")
    assert nothing.shape == photo.shape


def test_bad_blur_radius_is_refused():
    photo, alpha = _red_person_on_blue()
    with pytest.raises(errors.InvalidOption):
        compose(photo, alpha, mode="blur", blur_radius=-3)


# ------------------------------------------------------------------------------ decontamination


def _soft_scene():
    """A composite with a wide soft edge over a saturated green background, its alpha, the
    true foreground and a second background: the ground truth for a re-composite."""
    foreground = np.asarray(astronaut().resize((640, 640)), np.float32)
    alpha = disc_alpha(640, 640, radius=220, soft=40)
    # Hair-like strands: soft stripes crossing the edge.
    _yy, xx = np.mgrid[0:640, 0:640]
    alpha = np.clip(alpha + 0.35 * (np.sin(xx / 3.0) > 0.6) * (alpha > 0.05), 0, 1)
    alpha = alpha.astype(np.float32)
    green = np.zeros_like(foreground)
    green[...] = (20, 210, 40)
    observed = alpha[..., None] * foreground + (1 - alpha[..., None]) * green
    new_background = np.zeros_like(foreground)
    new_background[...] = (40, 40, 160)
    truth = alpha[..., None] * foreground + (1 - alpha[..., None]) * new_background
    band = (alpha > 0.05) & (alpha < 0.95)
    return (
        np.clip(observed + 0.5, 0, 255).astype(np.uint8),
        alpha,
        new_background.astype(np.uint8),
        truth,
        band,
    )


def test_decontamination_removes_the_old_background_from_soft_edges():
    observed, alpha, new_background, truth, band = _soft_scene()
    plain = compose(observed, alpha, mode="image", background=new_background, decontaminate=False)
    clean = compose(observed, alpha, mode="image", background=new_background)
    error_plain = np.abs(plain.astype(np.float32) - truth)[band].mean()
    error_clean = np.abs(clean.astype(np.float32) - truth)[band].mean()
    assert error_clean < 0.6 * error_plain, (error_plain, error_clean)
    # The green fringe specifically: green excess over the truth in the band.
    green_excess = (plain[..., 1].astype(np.float32) - truth[..., 1])[band].mean()
    green_excess_clean = (clean[..., 1].astype(np.float32) - truth[..., 1])[band].mean()
    assert green_excess_clean < green_excess / 2


def test_estimate_foreground_only_changes_the_soft_band():
    observed, alpha, *_ = _soft_scene()
    foreground = estimate_foreground(observed, alpha)
    pure = (alpha < 2 / 255) | (alpha > 253 / 255)
    assert np.array_equal(foreground[pure], observed[pure])
    assert not np.array_equal(foreground, observed)


def _soft_person_off_centre() -> tuple[np.ndarray, np.ndarray]:
    """(photo uint8 700x900x3, alpha float32 700x900): ``_soft_scene``'s soft person pasted
    off-centre into a bigger photo, taller than a strip."""
    observed, soft, *_ = _soft_scene()
    alpha = np.zeros((700, 900), np.float32)
    alpha[50:690, 230:870] = soft
    photo = np.asarray(coffee().convert("RGB").resize((900, 700))).copy()
    photo[50:690, 230:870] = observed
    return photo, alpha


@pytest.mark.parametrize("mode", ["image", "transparent"])
def test_strip_paste_matches_pasting_the_whole_decontaminated_photo(mode):
    # A soft person off-centre in a photo taller than a strip (256 rows): the paste visits
    # only the matte's bounding box, strip by strip, and must give the whole-photo result.
    photo, alpha = _soft_person_off_centre()
    background = np.asarray(Image.new("RGB", (900, 700), (40, 40, 160)))
    expected_rgb = estimate_foreground(photo, alpha)
    mask = Image.fromarray(alpha_to_uint8(alpha), "L")
    got = compose(photo, alpha, mode=mode, background=background)
    if mode == "transparent":
        assert np.array_equal(got[..., :3], expected_rgb)
        assert np.array_equal(got[..., 3], np.asarray(mask))
    else:
        canvas = Image.fromarray(background)
        canvas.paste(Image.fromarray(expected_rgb), (0, 0), mask)
        assert np.array_equal(got, np.asarray(canvas))


# ------------------------------------------------------------------ low-res statistics
# The statistics are made with numpy/OpenCV where they were first made with Pillow; the
# output of ``compose`` depends on every 8-bit rounding, so these must be the same integers.


def _pillow_smooth(image: Image.Image, sigma: float) -> np.ndarray:
    """The Pillow-only blur the statistics were designed with (reference)."""
    if sigma <= 1.0:
        return np.asarray(image.filter(ImageFilter.BoxBlur(1)))
    step = max(1, min(int(sigma / 1.5), min(image.size) // 2))
    small = image.reduce(step) if step > 1 else image
    small = small.filter(ImageFilter.GaussianBlur(sigma / step))
    return np.asarray(small.resize(image.size, Image.Resampling.BILINEAR) if step > 1 else small)


@pytest.mark.parametrize("shape", [(231, 173), (1, 7), (6, 1), (2, 2), (40, 3)])
def test_small_box_blur_gives_pillows_integers(shape):
    rng = np.random.default_rng(sum(shape))
    bands = rng.integers(0, 256, (*shape, 8), dtype=np.uint8)
    bands[: shape[0] // 2, :, 4:] = np.where(bands[: shape[0] // 2, :, 4:] > 127, 255, 0)
    got = np.stack(_smooth([np.ascontiguousarray(bands[..., i]) for i in range(8)], 0.8), 2)
    for start in (0, 4):
        part = Image.frombytes("RGBa", shape[::-1], bands[..., start : start + 4].tobytes())
        assert np.array_equal(got[..., start : start + 4], _pillow_smooth(part, 0.8))


def test_premultiplied_maps_are_pillows_rgba_to_rgba_for_every_pair():
    colour = np.repeat(np.arange(256, dtype=np.uint8), 256).reshape(256, 256)
    weight = np.tile(np.arange(256, dtype=np.float32), (256, 1)) / 255.0
    image = Image.fromarray(np.stack([colour, 255 - colour, colour // 2], 2), "RGB")
    image.putalpha(Image.fromarray((weight * 255.0 + 0.5).astype(np.uint8), "L"))
    expected = np.asarray(image.convert("RGBa"))
    planes = [np.asarray(image.getchannel(c)) for c in "RGB"]
    assert np.array_equal(np.stack(_premultiplied(planes, [weight]), 2), expected)


@pytest.mark.parametrize(("sigma", "fallback"), [(0.8, 6.0), (3.5, 14.0)])
def test_local_colour_means_match_the_pillow_pipeline(sigma, fallback):
    photo = astronaut().resize((500, 700))
    mask = Image.fromarray(alpha_to_uint8(disc_alpha(700, 500, radius=200, soft=30)), "L")
    low = LowRes(photo, mask, stats_factor(photo.size))
    got = low.weighted_means([low.fg_weight, low.bg_weight], sigma, fallback_sigma=fallback)
    colour = photo.reduce(low.factor)
    plain = _pillow_smooth(colour, fallback).astype(np.float32)
    for i, weight in enumerate((low.fg_weight, low.bg_weight)):
        rgba = colour.copy()
        rgba.putalpha(Image.fromarray((weight * 255.0 + 0.5).astype(np.uint8), "L"))
        near, far = (
            _pillow_smooth(rgba.convert("RGBa"), s).astype(np.float32) for s in (sigma, fallback)
        )
        total = near[..., 3:] * (1.0 / 255.0) + 0.05 * (far[..., 3:] * (1.0 / 255.0)) + 1e-3
        expected = (near[..., :3] + 0.05 * far[..., :3] + 1e-3 * plain) / total
        assert np.array_equal(np.moveaxis(got[i], 0, 2), expected)


# ------------------------------------------------------------------------------ options


@pytest.mark.parametrize(
    ("text", "rgb"),
    [("#1E90FF", (30, 144, 255)), ("1e90ff", (30, 144, 255)), ("#fff", (255, 255, 255))],
)
def test_parse_color(text, rgb):
    assert parse_color(text) == rgb


@pytest.mark.parametrize("text", ["", "#12345", "blue", "#GGGGGG", "#1234567", "rgb(1,2,3)"])
def test_bad_colours_are_invalid_color(text):
    with pytest.raises(errors.InvalidColor) as caught:
        parse_color(text)
    assert caught.value.code == "invalid_color"
    assert caught.value.http_status == 400


def test_bad_options_are_refused_clearly():
    alpha = _hard_alpha()
    with pytest.raises(errors.InvalidOption):
        compose(PHOTO, alpha, mode="sepia")
    with pytest.raises(errors.InvalidOption):
        compose(PHOTO, alpha, mode="image")
    with pytest.raises(errors.InvalidOption):
        compose(PHOTO, alpha, mode="color")
    with pytest.raises(errors.InvalidColor):
        compose(PHOTO, alpha, mode="color", color=(300, 0, 0))
    with pytest.raises(ValueError, match="alpha"):
        compose(PHOTO, alpha[:-1], mode="transparent")


def _two_threads(work, items):
    """A ``compose.Runner`` that does the items on two threads, in no set order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(work, item) for item in reversed(list(items))]:
            future.result()


@pytest.mark.parametrize("mode", ["image", "color", "transparent"])
def test_compose_on_two_threads_gives_the_same_pixels(mode):
    photo, alpha = _soft_person_off_centre()
    background = astronaut().resize((640, 480))
    options = {"mode": mode, "background": background, "color": "#208040"}
    in_turn = compose_image(photo, alpha, **options)
    threaded = compose_image(photo, alpha, runner=_two_threads, **options)
    assert np.array_equal(np.asarray(threaded), np.asarray(in_turn))
