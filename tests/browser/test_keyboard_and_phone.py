"""Issue 14 in Chromium: the keyboard-only journey, the phone menu, the flash-message icon,
the API tokens page on a phone, history thumbnails of portraits, the drop zone's focus,
and the video page's details following the job. Screenshots of the pages this issue
changed when ``VBG_SCREENSHOT_DIR`` is set.

The studio's keyboard journey: sample photo, background, Save, history.
"""

from __future__ import annotations

import os

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from accounts.services import token_create
from compositing.models import Composite
from tests.accounts.factories import jpeg, make_composite
from tests.browser.conftest import Shots, builtin_backgrounds
from tests.compositing.test_error_pages import video
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def tab_to(page, predicate_js: str, *, limit: int = 40, back: bool = False) -> None:
    """Press Tab (Shift+Tab) until the focused element satisfies ``predicate_js`` (a JS
    expression over ``el``); fails if it is never reached, i.e. not keyboard-reachable."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate(
            f"(() => {{ const el = document.activeElement; return !!({predicate_js}); }})()"
        ):
            return
    raise AssertionError(f"never focused by Tab: {predicate_js}")


def focused_text(page) -> str:
    return page.evaluate("document.activeElement.textContent.trim()")


def sign_in_by_keyboard(page, url: str, username: str) -> None:
    page.goto(f"{url}/accounts/login/")
    tab_to(page, "el.name === 'username'")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/")


def test_keyboard_only_journey(browser_page, live_server, user):
    page = browser_page
    page.set_viewport_size(DESKTOP)
    make_composite(user)
    sign_in_by_keyboard(page, live_server.url, user.username)

    # History, then Backgrounds, through the main navigation.
    tab_to(page, "el.matches('.nav-links a') && el.textContent.trim() === 'History'")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/history/")
    tab_to(page, "el.matches('.media-actions a') && el.textContent.trim() === 'Download'")
    tab_to(page, "el.matches('.nav-links a') && el.textContent.trim() === 'Backgrounds'", back=True)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/backgrounds/")

    # The drop zone shows where the focus is.
    tab_to(page, "el.matches('.dropzone input[type=file]')")
    outline = page.evaluate(
        "getComputedStyle(document.activeElement.closest('.dropzone')).outlineStyle"
    )
    assert outline != "none"

    # Sign out: the account menu opens with Enter, Sign out is the last item.
    tab_to(page, "el.matches('.account-menu summary')", back=True)
    page.keyboard.press("Enter")
    tab_to(page, "el.textContent.trim() === 'Sign out'")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/accounts/login/")


def test_keyboard_only_studio_journey(browser_page, live_server, user, real_model):
    """The studio by keyboard alone: the sample photo, a background, Save, then history."""
    page = browser_page
    page.set_viewport_size(DESKTOP)
    builtin_backgrounds()
    sign_in_by_keyboard(page, live_server.url, user.username)
    tab_to(page, "el.matches('[data-sample]')")
    page.keyboard.press("Enter")
    page.locator("[data-preview]").wait_for(state="visible")
    page.wait_for_load_state("networkidle")

    tab_to(page, "el.name === 'background'")
    page.keyboard.press("ArrowRight")
    chosen = page.evaluate("document.activeElement.value")
    assert page.evaluate("document.activeElement.checked") is True
    ring = page.evaluate(
        "getComputedStyle(document.activeElement.closest('.tile').querySelector('.tile-face'))"
        ".outlineStyle + getComputedStyle(document.activeElement.closest('.tile')"
        ".querySelector('.tile-face')).boxShadow"
    )
    assert ring.replace("none", "").strip()  # the focused tile is visibly marked

    tab_to(page, "el.matches('[data-submit]')", limit=80)
    page.keyboard.press("Enter")
    page.locator("[data-result-badge]").wait_for(state="visible")
    saved = Composite.objects.get(status=Composite.Status.DONE)
    assert str(saved.background_id) == chosen

    tab_to(page, "el.matches('[data-detail]')")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/history/{saved.pk}/")
    tab_to(page, "el.matches('.nav-links a') && el.textContent.trim() === 'History'", back=True)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/history/")
    assert page.locator(f"a[href='/history/{saved.pk}/']").count() >= 1


def test_phone_menu_is_reachable_by_keyboard(browser_page, live_server, user):
    page = browser_page
    page.set_viewport_size(PHONE)
    sign_in_by_keyboard(page, live_server.url, user.username)
    assert not page.is_visible("text=Backgrounds")
    tab_to(page, "el.id === 'nav-toggle'")
    ring = page.evaluate(
        "getComputedStyle(document.querySelector('.nav-toggle-label')).outlineStyle"
    )
    assert ring != "none"  # the focus is visible on the menu button
    page.keyboard.press("Space")
    tab_to(page, "el.matches('.nav-links a') && el.textContent.trim() === 'Backgrounds'")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/backgrounds/")
    tab_to(page, "el.id === 'nav-toggle'", back=True)
    page.keyboard.press("Space")
    tab_to(page, "el.matches('.account-menu summary')")
    page.keyboard.press("Enter")
    tab_to(page, "el.textContent.trim() === 'Sign out'")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/accounts/login/")


def test_flash_message_icon_is_visible(browser_page, live_server, user):
    page = browser_page
    sign_in_by_keyboard(page, live_server.url, user.username)
    token_create(user=user, name="laptop")
    page.goto(f"{live_server.url}/accounts/tokens/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Revoke')")
    page.wait_for_selector(".message-success")
    disc, glyph = page.evaluate(
        """(() => { const s = getComputedStyle(document.querySelector('.message'), '::before');
                   return [s.backgroundColor, s.color]; })()"""
    )
    assert disc != glyph
    assert disc not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)")


def test_tokens_page_fits_a_phone_and_a_refresh_creates_nothing(browser_page, live_server, user):
    page = browser_page
    page.set_viewport_size(PHONE)
    token_create(user=user, name="a rather long token name for the laptop script")
    sign_in_by_keyboard(page, live_server.url, user.username)
    page.goto(f"{live_server.url}/accounts/tokens/")
    page.fill("input[name=name]", "phone")
    page.click("text=Create token")
    page.wait_for_selector("#new-token-key")
    page.reload()
    assert user.api_tokens.count() == 2  # the refresh did not post again
    assert not page.is_visible("#new-token-key")  # and the key was shown once
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for box in [b.bounding_box() for b in page.locator("button:has-text('Revoke')").all()]:
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def test_history_shows_portraits_whole(browser_page, live_server, user):
    page = browser_page
    composite = make_composite(user)
    composite.thumbnail.save("portrait.jpg", ContentFile(jpeg(300, 400)), save=True)
    sign_in_by_keyboard(page, live_server.url, user.username)
    page.goto(f"{live_server.url}/history/")
    img = page.locator(".history-thumb img").first
    img.wait_for()
    expect(img).to_have_js_property("complete", True)
    fit, box_ratio = page.evaluate(
        """(() => { const img = document.querySelector('.history-thumb img');
                   const r = img.getBoundingClientRect();
                   return [getComputedStyle(img).objectFit, r.width / r.height]; })()"""
    )
    # Shown whole: contained (nothing cut), in a frame close to the portrait's own shape.
    assert fit == "contain"
    assert 0.7 <= box_ratio <= 0.85


def test_video_details_follow_the_job(browser_page, live_server, user):
    page = browser_page
    job = video(user, "queued")
    sign_in_by_keyboard(page, live_server.url, user.username)
    page.goto(f"{live_server.url}/history/{job.pk}/")
    assert page.text_content("[data-status-text]") == "Queued"
    Composite.objects.filter(pk=job.pk).update(status="running", progress=15.0)
    expect(page.locator("[data-percent]")).to_have_text("15 %")  # the bar moved...
    assert page.text_content("[data-status-text]") == "Running"  # ...and so did the details


@pytest.mark.skipif(not os.environ.get("VBG_SCREENSHOT_DIR"), reason="VBG_SCREENSHOT_DIR not set")
def test_screenshots_of_the_pages_issue_14_changed(browser_page, live_server, user):
    page = browser_page
    shots = Shots(page)
    done = make_composite(user)
    done.thumbnail.save("portrait.jpg", ContentFile(jpeg(300, 400, "slategray")), save=True)
    running = video(user, "running")
    Composite.objects.filter(pk=running.pk).update(progress=15.0)
    token_create(user=user, name="laptop script")
    pages = [
        ("password-reset", "/accounts/password/reset/", False),
        ("sign-in", "/accounts/login/", False),
        ("account", "/accounts/", True),
        ("delete-account", "/accounts/delete/", True),
        ("tokens", "/accounts/tokens/", True),
        ("history", "/history/", True),
        ("delete-composite", f"/history/{done.pk}/delete/", True),
        ("video-running", f"/history/{running.pk}/", True),
        ("not-found", "/no/such/page/", True),
    ]
    for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        for name, path, signed_in in pages:
            if signed_in and "sessionid" not in {c["name"] for c in page.context.cookies()}:
                sign_in_by_keyboard(page, live_server.url, user.username)
            if not signed_in:
                page.context.clear_cookies()
            page.goto(f"{live_server.url}{path}")
            shots(f"{name}-{size_name}")
