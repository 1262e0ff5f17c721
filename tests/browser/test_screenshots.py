"""Screenshots of every studio/history page with real composites (the README's images).

Runs only when ``VBG_SCREENSHOT_DIR`` is set; ``VBG_SCREENSHOT_DOCS`` (a folder) also
receives ``studio.png`` and ``history.png``. Example::

    VBG_SCREENSHOT_DIR=/tmp/screens VBG_SCREENSHOT_DOCS=docs \\
        .venv/bin/pytest tests/browser/test_screenshots.py -m browser
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from skimage import data as skdata

from backgrounds.models import Background
from compositing.services import composite_create, composite_recomposite
from tests.browser.conftest import Shots, builtin_backgrounds
from tests.compositing.conftest import astronaut, upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _jpeg(image) -> bytes:
    import io

    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


@pytest.mark.skipif(not os.environ.get("VBG_SCREENSHOT_DIR"), reason="VBG_SCREENSHOT_DIR not set")
def test_screenshots_of_every_page(browser_page, live_server, user, real_model, tmp_path):
    from PIL import Image

    from tests.conftest import PASSWORD

    page = browser_page
    shots = Shots(page)
    builtin_backgrounds()
    backgrounds = list(Background.objects.builtin().order_by("name"))
    portrait = _jpeg(astronaut())

    # A history worth looking at: several backgrounds, a colour, a blur, a transparent one.
    first = composite_create(
        user=user,
        photo=upload(portrait, name="eileen.jpg"),
        mode="image",
        background_id=backgrounds[0].pk,
    )
    for background in backgrounds[1:4]:
        composite_recomposite(
            user=user, composite_id=first.pk, mode="image", background_id=background.pk
        )
    composite_recomposite(user=user, composite_id=first.pk, mode="color", color="#0EA5E9")
    composite_recomposite(user=user, composite_id=first.pk, mode="blur")
    composite_recomposite(user=user, composite_id=first.pk, mode="transparent", output_format="png")

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    # Studio: an error first (a file that is not an image), then a real result.
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"not an image at all")
    page.set_input_files("input[name=photo]", str(bad))
    page.click("[data-submit]")
    page.wait_for_selector("[data-error]:not([hidden])")
    shots("studio-error")

    portrait_file = tmp_path / "eileen.jpg"
    Image.fromarray(skdata.astronaut()).save(portrait_file, "JPEG", quality=92)
    page.set_input_files("input[name=photo]", str(portrait_file))
    page.locator(".bg-picker .tile", has_text=backgrounds[-1].name).first.click()
    page.click("[data-submit]")
    page.wait_for_selector("[data-result] img.compare-after", state="visible")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-result] img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    page.locator("[data-compare-range]").fill("42")
    shots("studio")

    page.goto(f"{live_server.url}/history/")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.history-card img')].every(i => i.naturalWidth > 0)"
    )
    shots("history")

    page.goto(f"{live_server.url}/history/{first.pk}/")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.parts img')].every(i => i.naturalWidth > 0)"
    )
    shots("detail")

    docs = os.environ.get("VBG_SCREENSHOT_DOCS")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
        shutil.copy(shots.folder / "studio.png", Path(docs) / "studio.png")
        shutil.copy(shots.folder / "history.png", Path(docs) / "history.png")
