"""The interactive API docs in Debian's Chromium: they render from our own static files
only (every request to another host is refused and recorded), and Swagger UI can call the
API with a token."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from accounts.services import token_create

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
def page(live_server, monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    # Playwright's sync API runs an event loop in this thread; the live server's ORM
    # calls happen in its own threads.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    own_host = urlsplit(live_server.url).hostname
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.external_requests = []

        def only_our_server(route):
            url = route.request.url
            if url.startswith(("data:", "blob:")) or urlsplit(url).hostname == own_host:
                route.continue_()
            else:
                page.external_requests.append(url)
                route.abort()

        page.route("**/*", only_our_server)
        yield page
        context.close()
        browser.close()


@pytest.mark.browser
def test_swagger_ui_renders_offline_and_calls_the_api_with_a_token(page, live_server, user):
    _token, key = token_create(user=user, name="swagger")

    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() >= 18
    page.get_by_role("button", name="Authorize").first.click()
    token_form = page.locator("form").filter(has_text="tokenAuth")
    token_form.locator("input").first.fill(f"Token {key}")
    token_form.get_by_label("Apply credentials").click()
    page.locator("button.btn-done").first.click()
    operation = page.locator("#operations-composites-composites_list")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for()
    if folder := os.environ.get("VBG_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(folder) / "api-docs.png"), full_page=False)

    assert status.inner_text().strip() == "200"
    assert page.external_requests == []


@pytest.mark.browser
def test_redoc_renders_offline(page, live_server):
    page.goto(f"{live_server.url}/api/docs/redoc/")
    page.get_by_role("heading", name="Make a composite").first.wait_for()
    page.get_by_role("heading", name="Virtual background studio API").first.wait_for()

    assert page.external_requests == []
