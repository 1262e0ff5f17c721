"""Library backgrounds are covered once per process and size, then served from the cache:
the same pixels as without it, no read of the stored file on a hit, never another
person's background, and a bounded size."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from compositing.services import background_cache, composite_create, composite_recomposite
from compositing.services.stored_files import stored_file_read as real_read
from tests.compositing.conftest import make_background, portrait_jpeg, upload
from vbgsite.errors import NotFound

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache(settings):
    settings.VBG_BACKGROUND_CACHE_MB = 24
    background_cache.cache_clear()
    yield
    background_cache.cache_clear()


@pytest.fixture
def reads(monkeypatch):
    """The stored files read by the background resolver, by name."""
    names: list[str] = []

    def counting(field, *, missing):
        names.append(field.name)
        return real_read(field, missing=missing)

    monkeypatch.setattr("compositing.services.background_choice.stored_file_read", counting)
    return names


def pixels(composite) -> np.ndarray:
    with composite.result.open("rb") as handle:
        return np.asarray(Image.open(handle).convert("RGB"))


def test_a_second_composite_reuses_the_covered_background(user, real_model, reads):
    background = make_background(user, name="Beach")
    first = composite_create(
        user=user, photo=upload(portrait_jpeg()), mode="image", background_id=background.pk
    )
    assert reads == [background.image.name]
    assert background_cache.cache_info()[0] == 1
    second = composite_create(
        user=user, photo=upload(portrait_jpeg()), mode="image", background_id=background.pk
    )
    assert reads == [background.image.name]  # the hit read nothing
    assert np.array_equal(pixels(first), pixels(second))


def test_cached_and_uncached_results_are_identical(user, real_model, settings):
    background = make_background(user, name="Beach", width=1200, height=500)
    options = {"mode": "image", "background_id": background.pk}
    placed = {"background_focus": "20,70", "background_zoom": "1.5", "background_mirror": "1"}
    settings.VBG_BACKGROUND_CACHE_MB = 0
    plain = composite_create(user=user, photo=upload(portrait_jpeg()), **options)
    moved = composite_create(user=user, photo=upload(portrait_jpeg()), placement=placed, **options)
    assert background_cache.cache_info() == (0, 0)
    settings.VBG_BACKGROUND_CACHE_MB = 24
    for _ in range(2):  # a miss, then a hit
        again = composite_create(user=user, photo=upload(portrait_jpeg()), **options)
        assert np.array_equal(pixels(plain), pixels(again))
        again = composite_create(
            user=user, photo=upload(portrait_jpeg()), placement=placed, **options
        )
        assert np.array_equal(pixels(moved), pixels(again))
    assert background_cache.cache_info()[0] == 2  # one canvas per placement


def test_another_persons_background_is_refused_even_when_cached(user, other_user, real_model):
    theirs = make_background(other_user, name="Private")
    composite_create(
        user=other_user, photo=upload(portrait_jpeg()), mode="image", background_id=theirs.pk
    )
    assert background_cache.cache_info()[0] == 1
    with pytest.raises(NotFound):
        composite_create(
            user=user, photo=upload(portrait_jpeg()), mode="image", background_id=theirs.pk
        )


def test_a_recomposite_uses_the_cache_too(user, real_model, reads):
    background = make_background(user, name="Beach")
    first = composite_create(
        user=user, photo=upload(portrait_jpeg()), mode="color", color="#112233"
    )
    for _ in range(2):
        composite_recomposite(
            user=user, composite_id=first.pk, mode="image", background_id=background.pk
        )
    assert reads == [background.image.name]


def test_a_missing_background_file_is_not_found_and_nothing_is_kept(user, real_model):
    background = make_background(user, name="Gone")
    default_storage.delete(background.image.name)
    with pytest.raises(NotFound, match="no longer available"):
        composite_create(
            user=user, photo=upload(portrait_jpeg()), mode="image", background_id=background.pk
        )
    assert not user.composites.exists()


def test_the_cache_stays_within_its_budget(settings):
    settings.VBG_BACKGROUND_CACHE_MB = 1  # 1 MiB of pixels
    made = []

    def make(side: int):
        made.append(side)
        return Image.new("RGB", (side, side), (side % 256, 0, 0))

    for side in (300, 300, 400, 300):  # 270 kB and 480 kB: both fit
        background_cache.cached_canvas(("k", side), lambda side=side: make(side))
    assert made == [300, 400]
    big, owned = background_cache.cached_canvas(("k", 700), lambda: make(700))  # 1.47 MB
    assert big.size == (700, 700) and owned  # too big to keep: the caller's own
    assert background_cache.cached_canvas(("k", 300), lambda: make(300))[1] is False  # shared
    assert background_cache.cache_info() == (2, 300 * 300 * 3 + 400 * 400 * 3)
    background_cache.cached_canvas(("k", 500), lambda: make(500))  # 750 kB: 400 goes
    assert background_cache.cache_info() == (2, 300 * 300 * 3 + 500 * 500 * 3)
    background_cache.cached_canvas(("k", 350), lambda: make(350))  # 367 kB: 300, then 500 go
    assert background_cache.cache_info() == (1, 350 * 350 * 3)
    background_cache.cached_canvas(("k", 350), lambda: make(350))
    assert made == [300, 400, 700, 500, 350]


def test_the_canvas_array_the_compose_reads_is_kept_with_the_cached_canvas(user, real_model):
    background = make_background(user, name="Beach")
    options = {"mode": "image", "background_id": background.pk}
    first = composite_create(user=user, photo=upload(portrait_jpeg()), **options)
    entries, size = background_cache.cache_info()
    assert entries == 1 and size == 2 * 512 * 512 * 3  # the canvas and its array
    (key,) = list(background_cache._current().keys())
    kept = background_cache.cached_canvas_pixels(key)
    assert kept is not None and not kept.flags.writeable
    image, shared = background_cache.cached_canvas(key, lambda: pytest.fail("a miss"))
    assert not shared and np.array_equal(kept, np.asarray(image))
    second = composite_create(user=user, photo=upload(portrait_jpeg()), **options)
    assert background_cache.cached_canvas_pixels(key) is kept  # read again, not copied
    assert background_cache.cache_info() == (entries, size)
    assert np.array_equal(pixels(first), pixels(second))


def test_a_canvas_array_over_the_budget_is_not_kept(settings):
    settings.VBG_BACKGROUND_CACHE_MB = 1
    background_cache.cache_clear()
    image = Image.new("RGB", (500, 500), (10, 20, 30))  # 750 kB: the canvas fits, not both
    background_cache.cached_canvas("k", lambda: image)
    first = background_cache.cached_canvas_pixels("k")
    assert first is not None and first.shape == (500, 500, 3)
    assert background_cache.cache_info() == (1, 500 * 500 * 3)
    assert background_cache.cached_canvas_pixels("k") is not first  # made again each time
    assert background_cache.cached_canvas_pixels("missing") is None


def test_a_background_first_covered_waits_behind_the_person_detectors(
    user, real_model, monkeypatch
):
    """A background's first use at a size is a read, a decode and a cover on the side
    thread: queued after the cut-out's own side stages, so the model's caller does not wait
    for the detectors behind it."""
    from compositing.services import beside, cut_out

    started: list[str] = []

    def recorded(name, function):
        def call(*args, **kwargs):
            started.append(name)
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(cut_out, "person_in_photo", recorded("detectors", cut_out.person_in_photo))
    monkeypatch.setattr(beside, "covered_canvas", recorded("cover", beside.covered_canvas))
    background = make_background(user, name="Beach")
    composite_create(
        user=user, photo=upload(portrait_jpeg()), mode="image", background_id=background.pk
    )
    assert started == ["detectors", "cover"]


def test_a_miss_decodes_the_background_beside_the_photo_and_a_hit_does_not(
    user, real_model, reads, monkeypatch
):
    """On a miss the library image is read and decoded on the request's thread while the
    photo is decoded beside (``ResolvedBackground.prefetch``), once: the canvas is then
    only covered. A hit reads nothing; the matte alone needs no background at all."""
    import threading

    from compositing.services import background_choice, photos

    decoded_on: list[str] = []
    real_decode = background_choice.stored_image_decode

    def decode(data):
        decoded_on.append(threading.current_thread().name)
        return real_decode(data)

    monkeypatch.setattr(background_choice, "stored_image_decode", decode)
    photo_decoded = threading.Event()
    real_open = photos.photo_upload_open

    def open_photo(photo, *, label):
        opened = real_open(photo, label=label)
        real_photo_decode = opened.decode

        def photo_decode():
            photo_decoded.wait(5.0)  # until the background's decode has started, at most 5 s
            return real_photo_decode()

        opened.decode = photo_decode
        return opened

    def decode_then_release(data):
        photo_decoded.set()
        return decode(data)

    monkeypatch.setattr(background_choice, "stored_image_decode", decode_then_release)
    monkeypatch.setattr(photos, "photo_upload_open", open_photo)
    background = make_background(user, name="Forest")
    options = {"mode": "image", "background_id": background.pk}
    composite_create(user=user, photo=upload(portrait_jpeg()), **options)
    assert decoded_on == [threading.current_thread().name]  # beside the photo's decode
    assert reads == [background.image.name]
    photo_decoded.set()
    composite_create(user=user, photo=upload(portrait_jpeg()), **options)
    composite_create(
        user=user, photo=upload(portrait_jpeg()), placement={"channels": "alpha"}, **options
    )
    assert reads == [background.image.name] and len(decoded_on) == 1


def test_a_stored_jpeg_decodes_to_pillows_pixels_and_other_formats_still_decode():
    """``stored_image_decode`` decodes plain JPEGs with libjpeg-turbo into an array: the
    same pixels as Pillow's own decode (so covered canvases do not change)."""
    import io

    from compositing.services.uploads import stored_image_decode
    from tests.compositing.conftest import astronaut, encode, gradient

    for image in (astronaut(), gradient(1920, 1080), gradient(333, 517)):
        for quality in (75, 95):
            data = encode(image, "JPEG", quality=quality)
            with Image.open(io.BytesIO(data)) as reference:
                expected = np.asarray(reference.convert("RGB"))
            decoded = stored_image_decode(data)
            assert decoded.mode == "RGB"
            assert np.array_equal(np.asarray(decoded), expected)
        png = stored_image_decode(encode(image, "PNG"))
        assert np.array_equal(np.asarray(png), np.asarray(image.convert("RGB")))


def test_the_prefetch_asks_for_the_upright_photos_canvas(user, real_model, reads):
    """A photo stored sideways (EXIF orientation 6) is composited upright: the canvas the
    prefetch looks for is the upright size's, so a second composite reads nothing."""
    from compositing.services.uploads import photo_upload_decode, photo_upload_open
    from tests.compositing.conftest import exif_rotated_jpeg

    data, upright = exif_rotated_jpeg()
    opened = photo_upload_open(upload(data), label="Photo")
    assert opened.opened.size == upright[::-1] and opened.upright_size == upright
    assert photo_upload_decode(upload(data), label="Photo").size == upright
    assert photo_upload_open(upload(portrait_jpeg()), label="Photo").upright_size == (512, 512)
    background = make_background(user, name="Lake")
    options = {"mode": "image", "background_id": background.pk}
    for _ in range(2):
        composite_create(user=user, photo=upload(data), **options)
    assert reads == [background.image.name]
