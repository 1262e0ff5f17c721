"""The studio as an editor, in Chromium: one upload (one model run), instant previews with
no request and no history entry, Save = one entry; the canvas preview matches the server's
saved result for the same settings; desktop and phone screenshots of the editor."""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backgrounds.models import Background
from compositing.models import Composite
from compositing.services import composite_create, composite_recomposite
from tests.browser.conftest import builtin_backgrounds
from tests.compositing.conftest import astronaut, portrait_jpeg, upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, user) -> None:
    from tests.conftest import PASSWORD

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def set_controls(page, form: str, values: dict[str, str]) -> None:
    """Set form controls by name (radios by value) and fire the events the page listens to."""
    page.evaluate(
        """([form, values]) => {
          const root = document.querySelector(form);
          for (const [name, value] of Object.entries(values)) {
            const radio = root.querySelector(`input[type=radio][name="${name}"][value="${value}"]`);
            const el = radio || root.querySelector(`[name="${name}"]`);
            if (el.type === "checkbox") el.checked = value === "on" || value === "alpha";
            else if (radio) radio.checked = true;
            else el.value = value;
            el.dispatchEvent(new Event("change", { bubbles: true }));
          }
        }""",
        [form, values],
    )


def canvas_pixels(page, form: str) -> np.ndarray:
    """The preview canvas, drawn after the last change, as an array (RGBA)."""
    page.evaluate(
        """(form) => {
          const root = document.querySelector(form);
          root.querySelector("[data-preview-canvas]").removeAttribute("data-rendered");
          root.querySelector("[name=scale]").dispatchEvent(new Event("change", { bubbles: true }));
        }""",
        form,
    )
    page.wait_for_function(
        "(form) => document.querySelector(form + ' [data-preview-canvas]')"
        ".hasAttribute('data-rendered')",
        arg=form,
    )
    data_url = page.evaluate(
        "(form) => document.querySelector(form + ' [data-preview-canvas]').toDataURL('image/png')",
        form,
    )
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def server_pixels(composite: Composite) -> np.ndarray:
    with composite.result.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())))


CASES = [
    # (name, form values, service kwargs)
    (
        "image-placed",
        {
            "output_size": "1920x1080",
            "scale": "70",
            "position": "bottom",
            "background_focus_x": "20",
            "background_zoom": "1.5",
            "background_mirror": "on",
        },
        {
            "mode": "image",
            "placement": {
                "output_size": "1920x1080",
                "scale": "70",
                "position": "bottom",
                "background_focus": "20,50",
                "background_zoom": "1.5",
                "background_mirror": "true",
            },
        },
    ),
    (
        "colour-cropped",
        {"background": "color", "color": "#1e90ff", "crop": "on", "crop_margin": "10%"},
        {"mode": "color", "color": "#1E90FF", "placement": {"crop": "true", "crop_margin": "10%"}},
    ),
    (
        "blur-strong",
        {"background": "blur", "blur_strength": "60"},
        {"mode": "blur", "placement": {"blur_strength": "strong"}},
    ),
    (
        "matte",
        {"background": "blur", "channels": "alpha", "output_size": "1080x1350"},
        {"mode": "blur", "placement": {"channels": "alpha", "output_size": "1080x1350"}},
    ),
]


def test_canvas_preview_matches_the_saved_result(browser_page, live_server, user, real_model):
    page = browser_page
    page.on("console", lambda message: print("console:", message.type, message.text))
    page.on("pageerror", lambda error: print("pageerror:", error))
    builtin_backgrounds()
    background = Background.objects.builtin().order_by("name").first()
    original = composite_create(
        user=user, photo=upload(portrait_jpeg()), mode="image", background_id=background.pk
    )
    sign_in(page, live_server, user)
    page.goto(f"{live_server.url}/history/{original.pk}/")
    form = "[data-recomposite]"
    page.locator("#recomposite summary").click()
    set_controls(page, form, {"background": str(background.pk)})
    page.wait_for_load_state("networkidle")
    report = []
    for name, values, kwargs in CASES:
        set_controls(page, form, {"background": str(background.pk), **values})
        page.wait_for_load_state("networkidle")
        preview = canvas_pixels(page, form)
        saved = composite_recomposite(
            user=user,
            composite_id=original.pk,
            background_id=background.pk if kwargs["mode"] == "image" else None,
            output_format="png",
            **kwargs,
        )
        server = server_pixels(saved)
        channels = 1 if server.ndim == 2 else 3
        preview = preview[..., 0] if channels == 1 else preview[..., :3]
        assert preview.shape == server.shape, name
        if os.environ.get("VBG_EDITOR_DUMP"):
            Image.fromarray(preview).save(f"{os.environ['VBG_EDITOR_DUMP']}/{name}-preview.png")
            Image.fromarray(server).save(f"{os.environ['VBG_EDITOR_DUMP']}/{name}-server.png")
        diff = np.abs(preview.astype(int) - server.astype(int))
        mean, p99 = diff.mean(), np.percentile(diff, 99)
        report.append(f"{name}: mean {mean:.2f}, p99 {p99:.0f}")
        # Resampling filters and the server's edge decontamination differ a little; the
        # blur is the server's fast approximation of a Gaussian against the browser's own.
        limits = (4.0, 45) if name.startswith("blur") else (2.0, 20)
        assert mean < limits[0] and p99 < limits[1], report
        # set the defaults back for the next case
        set_controls(
            page,
            form,
            {
                "output_size": "original",
                "scale": "100",
                "position": "center",
                "background_focus_x": "50",
                "background_zoom": "1",
                "background_mirror": "",
                "crop": "",
                "crop_margin": "",
                "channels": "",
                "blur_strength": "25",
            },
        )
    print("\n".join(report))


def test_one_upload_then_previews_then_one_history_entry(
    browser_page, live_server, user, real_model, tmp_path
):
    page = browser_page
    builtin_backgrounds()
    sign_in(page, live_server, user)
    portrait = tmp_path / "eileen.jpg"
    astronaut().save(portrait, "JPEG", quality=92)
    page.set_input_files("input[name=photo]", str(portrait))
    page.locator(".bg-picker .tile").first.click()
    page.locator("[data-preview]").wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    assert Composite.objects.filter(status=Composite.Status.DRAFT).count() == 1

    requests = []
    page.on("request", lambda request: requests.append(request.url))
    form = "[data-studio]"
    page.locator("[data-placement] summary").click()
    for values in (
        {"background": "color"},
        {"background": "blur", "blur_strength": "60"},
        {"background": "transparent"},
        {"output_size": "1080x1080", "scale": "60", "position": "bottom"},
    ):
        set_controls(page, form, values)
        canvas_pixels(page, form)
    assert [u for u in requests if "/background" not in u] == []  # no request but images
    assert Composite.objects.exclude(status=Composite.Status.DRAFT).count() == 0

    page.click("[data-submit]")
    page.locator("[data-result-badge]").wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    saved = Composite.objects.get()
    assert saved.status == Composite.Status.DONE and saved.mode == "transparent"
    assert (saved.width, saved.height) == (1080, 1080)

    # Keyboard: the placement controls are reachable and change the preview.
    page.focus("[data-studio] input[name=scale]")
    page.keyboard.press("ArrowLeft")
    assert page.input_value("[data-studio] input[name=scale]") == "59"
    page.locator("[data-preview]").wait_for(state="visible")

    # Save again: a re-composite of the saved entry (no model run), one more entry.
    page.click("[data-submit]")
    page.locator("[data-result-badge]").wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    assert Composite.objects.count() == 2
    assert Composite.objects.exclude(pk=saved.pk).get().parent_id == saved.pk


def test_a_background_that_arrives_after_save_does_not_hide_the_result(
    browser_page, live_server, user, real_model, tmp_path
):
    """The preview's background can finish loading after Save has shown the result (a slow
    link, a busy server): the result stays; only the person's next change draws a preview
    again."""
    page = browser_page
    builtin_backgrounds()
    sign_in(page, live_server, user)
    picked = page.locator("[data-studio] input[name=background]:checked")
    image_url = picked.get_attribute("data-image-url")
    held = []
    page.route(f"**{image_url}", lambda route: held.append(route))  # held until released

    portrait = tmp_path / "eileen.jpg"
    astronaut().save(portrait, "JPEG", quality=92)
    page.set_input_files("input[name=photo]", str(portrait))
    page.click("[data-submit]")  # waits for the draft (one model run), then saves it
    after = page.locator("[data-result] img.compare-after")
    after.wait_for(state="visible")
    assert len(held) == 1  # the first preview asked for the background; it has not come
    with page.expect_response(lambda response: response.url.endswith(image_url)):
        held[0].continue_()
    page.wait_for_timeout(300)  # the image decodes, then the next animation frames run
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )
    assert after.is_visible()
    assert page.locator("[data-studio] [data-preview]").is_hidden()

    # The next change is the person's own: the preview comes back, with that background.
    set_controls(page, "[data-studio]", {"scale": "80"})
    page.locator("[data-studio] [data-preview]").wait_for(state="visible")
    assert page.locator("[data-result]").is_hidden()


@pytest.mark.skipif(not os.environ.get("VBG_SCREENSHOT_DOCS"), reason="VBG_SCREENSHOT_DOCS not set")
def test_editor_screenshots(browser_page, live_server, user, real_model, tmp_path):
    page = browser_page
    builtin_backgrounds()
    sign_in(page, live_server, user)
    docs = Path(os.environ["VBG_SCREENSHOT_DOCS"])
    docs.mkdir(parents=True, exist_ok=True)
    portrait = tmp_path / "eileen.jpg"
    astronaut().save(portrait, "JPEG", quality=92)
    for name, viewport in (("editor-desktop", (1440, 900)), ("editor-phone", (390, 844))):
        page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
        page.goto(f"{live_server.url}/")
        page.set_input_files("input[name=photo]", str(portrait))
        page.locator(".bg-picker .tile").nth(2).click()
        page.locator("[data-preview]").wait_for(state="visible")
        page.locator("[data-placement] summary").click()
        set_controls(
            page,
            "[data-studio]",
            {
                "output_size": "1920x1080",
                "scale": "85",
                "position": "bottom",
                "background_focus_x": "30",
            },
        )
        page.wait_for_load_state("networkidle")
        canvas_pixels(page, "[data-studio]")
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(docs / f"{name}.png"), full_page=True)
    # The detail page's re-composite: the same editor on a saved entry.
    page.set_viewport_size({"width": 1440, "height": 900})
    page.click("[data-submit]")
    page.locator("[data-result-badge]").wait_for(state="visible")
    page.wait_for_load_state("networkidle")
    saved = Composite.objects.exclude(status=Composite.Status.DRAFT).get()
    page.goto(f"{live_server.url}/history/{saved.pk}/#recomposite")
    set_controls(page, "[data-recomposite]", {"background": "blur", "blur_strength": "60"})
    canvas_pixels(page, "[data-recomposite]")
    page.locator("#recomposite").screenshot(path=str(docs / "editor-recomposite.png"))
