"""composite_create: the real model, real storage; what a person would notice."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from compositing.models import Composite
from compositing.services import composite_create
from compositing.services.background_choice import composite_notices
from tests.compositing.conftest import (
    astronaut,
    background_jpeg,
    exif_rotated_jpeg,
    make_background,
    portrait_jpeg,
    stored_names,
    upload,
)
from vbgsite.errors import NoPerson, NotFound

pytestmark = pytest.mark.django_db


def read(field) -> Image.Image:
    with field.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    return image


def mask_of(composite: Composite) -> np.ndarray:
    return np.asarray(read(composite.mask).convert("L"))


def test_composite_on_builtin_background_keeps_person_pixels(user, builtin_background, real_model):
    composite = composite_create(
        user=user,
        photo=upload(portrait_jpeg()),
        mode="image",
        background_id=builtin_background.pk,
    )

    assert composite.status == Composite.Status.DONE
    assert (composite.width, composite.height) == (512, 512)
    assert composite.background == builtin_background
    assert composite.model_name
    stages = ("decode_ms", "segment_ms", "person_check_ms", "compose_ms", "encode_ms")
    for key in (*stages, "store_ms", "total_ms"):
        assert composite.timings[key] >= 0
    assert composite.timings["segment_ms"] > 0
    assert composite.timings["person_check_ms"] > 0  # the detectors ran

    mask = mask_of(composite)
    result = np.asarray(read(composite.result).convert("RGB")).astype(int)
    photo = np.asarray(astronaut()).astype(int)
    person = mask == 255
    background = mask == 0
    assert person.mean() > 0.15, "the astronaut covers a good part of the photo"
    # Where the mask is certain, the result is the photo (JPEG noise aside) ...
    assert np.abs(result[person] - photo[person]).mean() < 4
    # ... and elsewhere it is the new background, not the photo.
    assert np.abs(result[background] - photo[background]).mean() > 30


def test_files_are_private_random_names_under_the_user(user, builtin_background, real_model):
    composite = composite_create(
        user=user,
        photo=upload(portrait_jpeg(), name="my holiday.jpg"),
        mode="image",
        background_id=builtin_background.pk,
    )
    names = composite.file_names()
    assert len(names) == 4  # source, mask, result, thumbnail
    for name in names:
        assert name.startswith(f"users/{user.pk}/composites/{composite.pk.hex}/")
        assert "holiday" not in name
    assert composite.source_name == "my holiday.jpg"
    assert sorted(names) == stored_names(folder=f"users/{user.pk}")


def test_source_is_reencoded_without_metadata(user, real_model, tmp_media):
    data, upright_size = exif_rotated_jpeg()
    composite = composite_create(user=user, photo=upload(data), mode="blur")
    source = read(composite.source)
    assert source.size == upright_size  # stored upright
    assert not source.getexif()  # no EXIF (no GPS, no orientation) survives
    assert (composite.width, composite.height) == upright_size
    assert read(composite.result).size == upright_size
    assert read(composite.mask).size == upright_size


def test_a_plain_jpeg_source_is_kept_as_uploaded_minus_its_metadata(user, real_model, tmp_media):
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[2] = (48.0, 51.0, 30.0)  # GPSLatitude
    out = io.BytesIO()
    astronaut().save(out, "JPEG", quality=88, exif=exif.tobytes(), comment=b"our street")
    composite = composite_create(user=user, photo=upload(out.getvalue()), mode="blur")
    with composite.source.open("rb") as handle:
        kept = handle.read()
    assert b"PhoneMaker" not in kept and b"our street" not in kept
    assert not read(composite.source).getexif()
    # No re-encode: the very pixels that were uploaded (a q95 re-encode would differ).
    original = np.asarray(Image.open(io.BytesIO(out.getvalue())).convert("RGB"))
    assert np.array_equal(np.asarray(read(composite.source).convert("RGB")), original)


@pytest.mark.parametrize("fmt, pil_format", [("jpg", "JPEG"), ("png", "PNG"), ("webp", "WEBP")])
def test_output_formats(user, fmt, pil_format, real_model, tmp_media):
    composite = composite_create(
        user=user, photo=upload(portrait_jpeg()), mode="color", color="#00ff00", output_format=fmt
    )
    assert composite.output_format == fmt
    assert read(composite.result).format == pil_format
    assert composite.result.name.endswith(f".{fmt}")
    assert composite.color == "#00FF00"


def test_transparent_keeps_alpha_and_never_writes_jpeg(user, real_model, tmp_media):
    composite = composite_create(
        user=user, photo=upload(portrait_jpeg()), mode="transparent", output_format="jpg"
    )
    assert composite.output_format == "png"
    result = read(composite.result)
    assert result.mode == "RGBA"
    alpha = np.asarray(result.getchannel("A"))
    assert np.array_equal(alpha, mask_of(composite))


def test_colour_background_fills_where_the_person_is_not(user, real_model, tmp_media):
    composite = composite_create(
        user=user, photo=upload(portrait_jpeg()), mode="color", color="#1e90ff", output_format="png"
    )
    result = np.asarray(read(composite.result).convert("RGB")).astype(int)
    background = mask_of(composite) == 0
    assert np.abs(result[background] - [30, 144, 255]).max() <= 1


def test_one_off_background_upload_is_stored_with_the_composite(user, real_model, tmp_media):
    composite = composite_create(
        user=user,
        photo=upload(portrait_jpeg()),
        mode="image",
        background_file=upload(background_jpeg(1600, 900), name="beach.jpg"),
    )
    assert composite.background is None
    assert composite.background_image
    assert read(composite.background_image).size == (512, 512)  # covered to the photo
    assert user.backgrounds.count() == 0  # not added to the library


def test_save_background_adds_it_to_the_library(user, real_model, tmp_media):
    composite = composite_create(
        user=user,
        photo=upload(portrait_jpeg()),
        mode="image",
        background_file=upload(background_jpeg(), name="office_view.jpg"),
        save_background=True,
    )
    saved = user.backgrounds.get()
    assert composite.background == saved
    assert not composite.background_image
    assert saved.name == "office view"


def test_own_library_background(user, real_model, tmp_media):
    own = make_background(user, name="Mine")
    composite = composite_create(
        user=user, photo=upload(portrait_jpeg()), mode="image", background_id=str(own.pk)
    )
    assert composite.background == own


def test_another_users_background_is_not_found(user, other_user, real_model, tmp_media):
    theirs = make_background(other_user, name="Theirs")
    with pytest.raises(NotFound):
        composite_create(
            user=user, photo=upload(portrait_jpeg()), mode="image", background_id=theirs.pk
        )
    assert not Composite.objects.exists()
    assert stored_names(folder=f"users/{user.pk}") == []


def test_photo_without_a_person_is_refused(user, real_model, tmp_media):
    from tests.compositing.conftest import encode, gradient

    with pytest.raises(NoPerson):
        composite_create(user=user, photo=upload(encode(gradient(640, 480), "JPEG")), mode="blur")
    assert not Composite.objects.exists()
    assert stored_names(folder=f"users/{user.pk}") == []


def test_failure_after_some_files_are_written_leaves_nothing(
    user, builtin_background, real_model, tmp_media, monkeypatch
):
    """A storage error on the third file: the first two are deleted, no row is created."""
    from django.core.files.storage import FileSystemStorage

    real_save = FileSystemStorage._save
    calls = {"n": 0}

    def failing_save(self, name, content):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real_save(self, name, content)

    monkeypatch.setattr(FileSystemStorage, "_save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        composite_create(
            user=user,
            photo=upload(portrait_jpeg()),
            mode="image",
            background_id=builtin_background.pk,
        )
    assert calls["n"] == 3
    assert not Composite.objects.exists()
    assert stored_names(folder=f"users/{user.pk}") == []


def test_failed_row_insert_removes_files_and_the_saved_background(
    user, real_model, tmp_media, monkeypatch
):
    """The row cannot be saved: the stored files and the library entry made for it go."""

    def broken_save(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Composite, "save", broken_save)
    with pytest.raises(RuntimeError):
        composite_create(
            user=user,
            photo=upload(portrait_jpeg()),
            mode="image",
            background_file=upload(background_jpeg()),
            save_background=True,
        )
    assert user.backgrounds.count() == 0
    assert stored_names(folder=f"users/{user.pk}") == []


def test_full_library_still_composites_and_says_the_background_was_not_saved(
    user, real_model, tmp_media, settings
):
    """Issue 14, defect 9: "Also save it to my library" with a full library failed the
    whole composite; now the composite is made, the background kept with it alone."""
    settings.VBG_BACKGROUND_QUOTA = 1
    make_background(user, name="Already one")
    composite = composite_create(
        user=user,
        photo=upload(portrait_jpeg()),
        mode="image",
        background_file=upload(background_jpeg()),
        save_background=True,
    )
    assert composite.status == Composite.Status.DONE
    assert user.backgrounds.count() == 1  # nothing added
    assert composite.background is None
    assert composite.background_image  # the one-off is kept with the composite
    [notice] = composite_notices(composite)
    assert "library is full" in notice
    assert "kept with this composite only" in notice
    stored = Composite.objects.get(pk=composite.pk)
    assert stored.background_image.name == composite.background_image.name


@pytest.mark.parametrize("side_threads", [0, 1])
def test_a_big_photo_painted_in_place_keeps_its_source_and_looks_the_same(
    user, builtin_background, real_model, tmp_media, monkeypatch, settings, side_threads
):
    """Over ``PAINT_ON_PHOTO_MIN_PIXELS`` (lowered here to this photo) the person is painted
    into the decoded photo itself; the stored source is still the photo as uploaded (a PNG
    is re-encoded from the decoded picture, beside the model with a side thread), and the
    result is the canvas path's, within OpenCV's and Pillow's cubic."""
    from compositing import engine, placement

    settings.VBG_SIDE_THREADS = side_threads
    monkeypatch.setattr(engine, "_beside", None)  # a pool of that many threads
    photo = astronaut()
    data = io.BytesIO()
    photo.save(data, "PNG")

    def make():
        return composite_create(
            user=user,
            photo=upload(data.getvalue(), "portrait.png", "image/png"),
            mode="image",
            background_id=builtin_background.pk,
        )

    on_canvas = make()
    monkeypatch.setattr(placement, "PAINT_ON_PHOTO_MIN_PIXELS", 100_000)
    in_place = make()
    # The source (a PNG: re-encoded as JPEG from the decoded picture) is the canvas path's,
    # byte for byte: encoded before the picture was painted over.
    with in_place.source.open("rb") as a, on_canvas.source.open("rb") as b:
        assert a.read() == b.read()
    source = np.asarray(read(in_place.source).convert("RGB"), np.float32)
    assert np.abs(source - np.asarray(photo, np.float32)).mean() < 2.0
    assert np.array_equal(mask_of(in_place), mask_of(on_canvas))
    painted = np.asarray(read(in_place.result).convert("RGB"), np.float32)
    expected = np.asarray(read(on_canvas.result).convert("RGB"), np.float32)
    assert np.abs(painted - expected).mean() < 1.0


@pytest.mark.parametrize("mode", ["image", "color"])
@pytest.mark.parametrize("side_threads", [0, 1])
def test_a_jpeg_composed_from_its_arrays_is_pillows_composite_exactly(
    user, builtin_background, real_model, tmp_media, monkeypatch, settings, side_threads, mode
):
    """A plain JPEG up to ``ARRAYS_MAX_PIXELS``: the compose reads the decoder's array, the
    canvas's array and the colour statistics the side thread made while the model ran
    (or the request itself, without a side thread), in one pass; the result file is the
    one Pillow's paste of the picture onto the canvas gives, byte for byte."""
    from compositing import compose, engine
    from compositing.services import beside

    settings.VBG_SIDE_THREADS = side_threads
    monkeypatch.setattr(engine, "_beside", None)  # a pool of that many threads
    pastes: list[tuple[bool, bool]] = []
    paste_arrays = compose.paste_arrays

    def spy(pixels, matte, canvas, low, runner=None, out=None):
        # Decontaminated; written into the decoder's array, which the request gave up.
        pastes.append((low is not None, out is pixels))
        return paste_arrays(pixels, matte, canvas, low, runner, out)

    monkeypatch.setattr(compose, "paste_arrays", spy)

    def make() -> Composite:
        choice = {"background_id": builtin_background.pk, "color": "#2a7fd4"}
        option = "background_id" if mode == "image" else "color"
        return composite_create(
            user=user, photo=upload(portrait_jpeg()), mode=mode, **{option: choice[option]}
        )

    arrays = make()
    assert pastes == [(True, True)]
    with monkeypatch.context() as patch:
        patch.setattr(compose, "ARRAYS_MAX_PIXELS", 0)
        patch.setattr(beside, "ARRAYS_MAX_PIXELS", 0)
        pillows = make()
    assert len(pastes) == 1  # Pillow's way: no array paste
    with arrays.result.open("rb") as a, pillows.result.open("rb") as b:
        assert a.read() == b.read()
    assert np.array_equal(mask_of(arrays), mask_of(pillows))


@pytest.mark.parametrize("mode", ["image", "color"])
def test_the_photos_buffers_are_let_go_before_the_files_are_stored(
    user, builtin_background, real_model, monkeypatch, mode
):
    """The store's round trips (tens of ms on S3, many requests at once) hold the files'
    bytes, not the decoded photo, its array and matte, or the result image."""
    import weakref

    from compositing.services import photos

    held: dict[str, weakref.ref] = {}
    real_cut_out, real_encode, real_store = (
        photos.photo_cut_out,
        photos._thumbnail_beside,
        photos.files_store_then_insert,
    )

    def cut_out(photo, decoded, timings, **options):
        held["decoded"], held["pixels"] = weakref.ref(decoded), weakref.ref(decoded.pixels)
        cut = real_cut_out(photo, decoded, timings, **options)
        held["alpha"] = weakref.ref(cut.alpha)
        return cut

    def encode(result, timings):  # the thumbnail's start: the result is composed
        held["result"] = weakref.ref(result)
        return real_encode(result, timings)

    alive_at_store: list[str] = []

    def store(*args, **kwargs):
        alive_at_store.extend(name for name, ref in held.items() if ref() is not None)
        return real_store(*args, **kwargs)

    monkeypatch.setattr(photos, "photo_cut_out", cut_out)
    monkeypatch.setattr(photos, "_thumbnail_beside", encode)
    monkeypatch.setattr(photos, "files_store_then_insert", store)
    options = {"background_id": builtin_background.pk} if mode == "image" else {"color": "#102030"}
    composite = composite_create(user=user, photo=upload(portrait_jpeg()), mode=mode, **options)
    assert composite.status == Composite.Status.DONE
    assert set(held) == {"decoded", "pixels", "alpha", "result"}
    assert alive_at_store == []
