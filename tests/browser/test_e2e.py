"""End to end in Debian's Chromium (Playwright) against a live server, with the real model:
sign up -> upload a real portrait -> composite with a built-in background -> see it in
history -> re-composite -> download -> delete.

Set ``VBG_SCREENSHOT_DIR`` to also save a screenshot of every page on the way.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from compositing.models import Composite
from tests.browser.conftest import Shots, builtin_backgrounds
from tests.compositing.conftest import astronaut, stored_names

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIGN_UP_PASSWORD = "Correct-Horse-Battery-42"


def settle(page) -> None:
    """Wait until the page has stopped loading (images included) before the test thread
    touches the database: with SQLite's in-memory test database the live server's threads
    share one connection with the test, which must not be used by two threads at once."""
    page.wait_for_load_state("networkidle")


def test_sign_up_composite_history_recomposite_download_delete(
    browser_page, live_server, tmp_media, tmp_path, real_model
):
    page = browser_page
    shots = Shots(page)
    builtin_backgrounds()
    portrait = tmp_path / "astronaut.jpg"
    astronaut().save(portrait, "JPEG", quality=92)

    # Sign up: lands signed in on the studio.
    page.goto(f"{live_server.url}/")
    shots("landing")
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("input[name=username]", "eileen")
    page.fill("input[name=email]", "eileen@example.com")
    page.fill("input[name=password1]", SIGN_UP_PASSWORD)
    page.fill("input[name=password2]", SIGN_UP_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.locator("h1", has_text="Studio").wait_for(state="visible")
    shots("studio-empty")

    # Upload a real portrait, choose the first built-in background, composite.
    page.set_input_files("input[name=photo]", str(portrait))
    page.locator("[data-photo-preview]").wait_for(state="visible")
    page.locator(".bg-picker .tile").first.click()
    shots("studio-ready")
    page.click("[data-submit]")
    page.wait_for_selector("[data-result] img.compare-after", state="visible")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-result] img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    page.locator("[data-result-badge]").wait_for(state="visible")
    settle(page)
    composite = Composite.objects.get()
    assert composite.owner.username == "eileen"
    assert composite.background is not None and composite.background.is_builtin
    # Drag the before/after slider: the original is revealed further.
    slider = page.locator("[data-compare-range]")
    slider.fill("80")
    assert "80%" in page.locator("[data-result] [data-compare]").get_attribute("style")
    page.locator("[data-compare-range]").fill("50")
    shots("studio-result")

    # History shows it; open the detail page.
    page.click("nav >> text=History")
    page.wait_for_url(f"{live_server.url}/history/")
    cards = page.locator(".history-card")
    assert cards.count() == 1
    page.wait_for_function(
        "() => [...document.querySelectorAll('.history-card img')].every(i => i.naturalWidth > 0)"
    )
    shots("history")
    cards.first.locator("a", has_text="Open").click()
    page.wait_for_url(f"{live_server.url}/history/{composite.pk}/")
    assert page.locator(".facts", has_text=composite.model_name).count() == 1
    page.wait_for_function(
        "() => [...document.querySelectorAll('.parts img')].every(i => i.naturalWidth > 0)"
    )
    shots("detail")

    # Re-composite onto a solid colour: a new entry, made from the stored mask.
    page.locator("#recomposite .tile", has_text="Colour").click()
    page.click("#recomposite button[type=submit]")
    page.wait_for_selector("text=Mask reused")
    settle(page)
    assert Composite.objects.count() == 2
    recomposite = Composite.objects.exclude(pk=composite.pk).get()
    assert recomposite.parent_id == composite.pk and recomposite.mode == "color"
    page.wait_for_function(
        "() => [...document.querySelectorAll('.parts img')].every(i => i.naturalWidth > 0)"
    )
    shots("detail-recomposite")

    # Download the result: a real JPEG of the photo's size.
    with page.expect_download() as info:
        page.click(".header-actions >> text=Download")
    download = info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert download.suggested_filename == "astronaut-composite.jpg"
    with Image.open(saved) as image:
        assert image.format == "JPEG" and image.size == (512, 512)

    # Delete the re-composite (with confirmation): its files leave storage.
    names = recomposite.file_names()
    page.click(".header-actions >> text=Delete")
    page.wait_for_url(f"{live_server.url}/history/{recomposite.pk}/delete/")
    shots("delete-confirm", full_page=False)
    page.click("text=Delete permanently")
    page.wait_for_url(f"{live_server.url}/history/")
    assert page.locator(".history-card").count() == 1
    settle(page)
    assert not Composite.objects.filter(pk=recomposite.pk).exists()
    remaining = stored_names(folder=f"users/{composite.owner_id}")
    assert not set(names) & set(remaining)
    assert set(composite.file_names()) <= set(remaining)

    if shots.folder and os.environ.get("VBG_SCREENSHOT_DOCS"):
        docs = Path(os.environ["VBG_SCREENSHOT_DOCS"])
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copy(shots.folder / "studio-result.png", docs / "studio.png")
        shutil.copy(shots.folder / "history.png", docs / "history.png")
