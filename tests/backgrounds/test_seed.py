"""Seeding the built-in backgrounds: at least 8, 1920x1080, idempotent, self-repairing."""

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image

from backgrounds.builtin import BUILTINS
from backgrounds.models import Background
from backgrounds.services import backgrounds_seed_builtin

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_seed_is_idempotent_and_repairs_missing_files(list_storage_files):
    assert backgrounds_seed_builtin() == len(BUILTINS)
    builtins = list(Background.objects.builtin().order_by("slug"))
    assert len(builtins) == len(BUILTINS) >= 8
    assert len({bg.name for bg in builtins}) == len(builtins)
    files = list_storage_files()
    assert set(files) == {name for bg in builtins for name in bg.file_names()}
    assert all(name.startswith("builtin/backgrounds/") for name in files)

    means = []
    for background in builtins:
        assert background.owner is None and background.slug
        assert (background.width, background.height) == (1920, 1080)
        with background.image.open("rb") as handle:
            image = Image.open(io.BytesIO(handle.read()))
            image.load()
        assert image.size == (1920, 1080) and image.format == "JPEG"
        pixels = np.asarray(image, dtype=np.float32)
        assert pixels.std() > 5  # not a flat colour
        means.append(pixels.mean(axis=(0, 1)))
        with background.thumbnail.open("rb") as handle:
            assert Image.open(io.BytesIO(handle.read())).size == (480, 270)
    # Every built-in looks different from every other.
    for i in range(len(means)):
        for j in range(i + 1, len(means)):
            assert np.abs(means[i] - means[j]).max() > 3, (builtins[i].slug, builtins[j].slug)

    # A second run changes nothing.
    assert backgrounds_seed_builtin() == 0
    assert list(Background.objects.builtin().order_by("slug")) == builtins
    assert list_storage_files() == files

    # A built-in whose file went missing is re-rendered; its old names are gone.
    broken = builtins[0]
    default_storage.delete(broken.image.name)
    assert backgrounds_seed_builtin() == 1
    repaired = Background.objects.get(pk=broken.pk)
    assert all(default_storage.exists(name) for name in repaired.file_names())
    assert broken.thumbnail.name not in list_storage_files()
    assert len(list_storage_files()) == len(files)
    assert Background.objects.builtin().count() == len(BUILTINS)


def test_management_command(capsys):
    call_command("seed_backgrounds")
    call_command("seed_backgrounds")
    out = capsys.readouterr().out
    assert f"{len(BUILTINS)} present, {len(BUILTINS)} written" in out
    assert f"{len(BUILTINS)} present, 0 written" in out
    assert Background.objects.builtin().count() == len(BUILTINS)
