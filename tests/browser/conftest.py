"""Chromium (Debian's, driven by Playwright) for the end-to-end tests, and screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.compositing.conftest import make_background, real_model  # noqa: F401 (fixture)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    # Playwright's sync API runs an event loop in this thread; the live server's ORM
    # calls happen in its own threads, so Django's async-safety guard does not apply.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1360, "height": 900}, device_scale_factor=1, accept_downloads=True
        )
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        context.close()
        browser.close()


def builtin_backgrounds() -> None:
    """The real built-in library when its seeding is available, else two generated ones."""
    try:
        from backgrounds.services import backgrounds_seed_builtin
    except ImportError:
        backgrounds_seed_builtin = None
    if backgrounds_seed_builtin is not None:
        backgrounds_seed_builtin()
    else:
        make_background(None, name="Studio gradient")
        make_background(None, name="Evening sky")


class Shots:
    """Screenshots when VBG_SCREENSHOT_DIR is set (the README's and docs/ images)."""

    def __init__(self, page) -> None:
        self.page = page
        folder = os.environ.get("VBG_SCREENSHOT_DIR")
        self.folder = Path(folder) if folder else None
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str, *, full_page: bool = True) -> None:
        if self.folder:
            # From the top, so the sticky header is where a person sees it.
            self.page.evaluate("window.scrollTo(0, 0)")
            self.page.screenshot(path=str(self.folder / f"{name}.png"), full_page=full_page)
