"""Issue 13: webhooks for video jobs. An optional ``callback_url`` per job (and a default
per token) is called on done, failed and cancelled with a JSON body signed HMAC-SHA256
(the secret is shown once, like the token), retried with backoff, never to private,
loopback or link-local addresses unless loopback is allowed (tests), every attempt visible
in the job's detail. Over HTTP against the live server, to a real HTTP receiver on
127.0.0.1; video jobs run the real pipeline (tasks run at once: Django's ImmediateBackend).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import urllib3.util.connection
from django.core.files.base import ContentFile

from compositing.models import Composite, WebhookDelivery
from compositing.services.webhooks import webhook_deliver
from tests.conftest import PASSWORD
from tests.video.clips import make_clip
from tests.video.conftest import engine, video_model_dir  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}


class Receiver:
    """An HTTP server on 127.0.0.1 recording every POST; answers ``statuses`` in turn."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.calls: list[dict] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append({"headers": dict(self.headers), "body": body})
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(statuses: list[int] | None = None) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for server in made:
        server.server.shutdown()


@pytest.fixture
def hooks(settings):
    settings.VBG_WEBHOOK_ALLOW_LOOPBACK = True
    settings.VBG_WEBHOOK_BACKOFF_SECONDS = [0, 0, 0]
    settings.VBG_PUBLIC_URL = "https://vbg.example.com"
    return settings


@pytest.fixture
def token(live_server, user) -> dict:
    """A token from the API (its webhook secret is shown only in this answer)."""
    response = requests.post(
        f"{live_server.url}/api/v1/auth/token/",
        data={"username": user.username, "password": PASSWORD},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["webhook_secret"].startswith("whsec_")
    return {**body, "headers": {"Authorization": f"Token {body['token']}"}}


def post_video(live_server, token, tmp_path, **fields) -> requests.Response:
    clip = make_clip(tmp_path / "clip.mp4", frames=6, audio=False)
    with clip.path.open("rb") as handle:
        return requests.post(
            f"{live_server.url}/api/v1/composites/",
            files={"video": ("clip.mp4", handle, "video/mp4")},
            data={"mode": "blur", **fields},
            headers=token["headers"],
            timeout=300,
        )


def check_signature(call: dict, secret: str) -> None:
    headers = call["headers"]
    signed = headers["X-VBG-Timestamp"].encode() + b"." + call["body"]
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-VBG-Signature"] == f"sha256={expected}"


@pytest.mark.usefixtures("engine")  # the real model runs the job
def test_a_finished_job_calls_its_webhook_signed(live_server, hooks, token, receiver, tmp_path):
    hook = receiver()
    hooks.TASKS = IMMEDIATE  # the job and its webhook run within the request

    created = post_video(live_server, token, tmp_path, callback_url=hook.url)

    assert created.status_code == 202, created.text
    assert len(hook.calls) == 1
    call = hook.calls[0]
    check_signature(call, token["webhook_secret"])
    body = json.loads(call["body"])
    job = created.json()["id"]
    assert body["event"] == "composite.done" and body["id"] == job
    assert body["status"] == "done"
    assert body["result_url"] == f"https://vbg.example.com/api/v1/composites/{job}/result/"
    assert call["headers"]["X-VBG-Event"] == "composite.done"
    detail = requests.get(created.json()["url"], headers=token["headers"], timeout=30).json()
    assert detail["callback_url"] == hook.url
    [delivery] = detail["webhook_deliveries"]
    assert delivery["delivered"] and delivery["status_code"] == 200
    assert delivery["attempt"] == 1 and delivery["event"] == "composite.done"


@pytest.mark.usefixtures("engine")  # the real model runs the job
def test_failed_calls_are_retried_and_every_attempt_shows(
    live_server, hooks, token, receiver, tmp_path
):
    hook = receiver([500, 503])
    hooks.TASKS = IMMEDIATE

    created = post_video(live_server, token, tmp_path, callback_url=hook.url)

    assert len(hook.calls) == 3
    deliveries = requests.get(created.json()["url"], headers=token["headers"], timeout=30).json()[
        "webhook_deliveries"
    ]
    assert [(d["attempt"], d["status_code"], d["delivered"]) for d in deliveries] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    assert deliveries[0]["error"] == "answered 500" and deliveries[0]["next_attempt_at"]
    assert len({c["headers"]["X-VBG-Delivery"] for c in hook.calls}) == 3


def test_retries_stop_after_the_last_backoff(live_server, hooks, token, receiver, user):
    hook = receiver([500] * 10)
    hooks.TASKS = IMMEDIATE
    composite = ended_job(user, hook.url, token["webhook_secret"])

    webhook_deliver(composite_id=composite.pk, attempt=1)

    assert len(hook.calls) == 4  # the first call and one per backoff step
    last = WebhookDelivery.objects.filter(composite=composite).last()
    assert last.attempt == 4 and last.next_attempt_at is None


def ended_job(user, url: str, secret: str, status: str = "failed") -> Composite:
    composite = Composite(
        owner=user,
        kind=Composite.Kind.VIDEO,
        status=status,
        error="This video is corrupt.",
        output_format="mp4",
        callback_url=url,
        callback_secret=secret,
    )
    composite.source.save("source.mp4", ContentFile(b"v"), save=False)
    composite.save()
    return composite


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.0.10:8080/",
        "http://[::1]/hook",
        "http://0.0.0.0/",
    ],
)
def test_private_and_link_local_addresses_are_refused(hooks, user, url):
    hooks.VBG_WEBHOOK_ALLOW_LOOPBACK = False
    hooks.VBG_WEBHOOK_BACKOFF_SECONDS = []
    composite = ended_job(user, url, "whsec_x")

    delivery = webhook_deliver(composite_id=composite.pk, attempt=1)

    assert not delivery.delivered and delivery.status_code is None
    assert delivery.error.startswith("refused:")


PUBLIC = "93.184.215.14"  # a global unicast address (nothing here connects to it)


def rebinding_dns(monkeypatch, answers: list[str]) -> list[str]:
    """``hooks.example.com`` resolves to ``answers`` in turn (the last one from then on),
    as a name whose owner flips its DNS record between lookups; other names as usual.
    Returns the log of the names looked up."""
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "hooks.example.com":
            return real(host, port, *args, **kwargs)
        looked_up.append(host)
        address = answers[min(len(looked_up), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def test_a_name_that_rebinds_to_loopback_after_the_check_is_refused(
    hooks, user, receiver, monkeypatch
):
    """The check sees a public address, the call would see 127.0.0.1 (where the receiver
    listens): refused and recorded, never called."""
    hook = receiver()
    hooks.VBG_WEBHOOK_ALLOW_LOOPBACK = False
    hooks.VBG_WEBHOOK_BACKOFF_SECONDS = []
    looked_up = rebinding_dns(monkeypatch, [PUBLIC, "127.0.0.1"])
    port = hook.server.server_address[1]
    composite = ended_job(user, f"http://hooks.example.com:{port}/hook", "s")

    delivery = webhook_deliver(composite_id=composite.pk, attempt=1)

    assert hook.calls == []
    assert not delivery.delivered and delivery.status_code is None
    assert delivery.error == "refused: hooks.example.com resolves to non-public 127.0.0.1"
    assert len(looked_up) == 2  # the check, then the call's own lookup (which it pins)


def test_the_call_connects_to_the_address_it_checked(hooks, user, monkeypatch):
    """No third lookup between the filter and the connection: the socket goes to the
    checked address itself, with the name kept in the Host header."""
    hooks.VBG_WEBHOOK_ALLOW_LOOPBACK = False
    hooks.VBG_WEBHOOK_BACKOFF_SECONDS = []
    looked_up = rebinding_dns(monkeypatch, [PUBLIC, PUBLIC, "127.0.0.1"])
    connected: list[tuple] = []

    def create_connection(address, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("not in tests")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    composite = ended_job(user, "http://hooks.example.com:8080/hook", "s")

    delivery = webhook_deliver(composite_id=composite.pk, attempt=1)

    assert connected == [(PUBLIC, 8080)]
    assert len(looked_up) == 2
    assert not delivery.delivered and delivery.error.startswith("ConnectionError")


def test_loopback_needs_the_setting(hooks, user, receiver):
    hook = receiver()
    hooks.VBG_WEBHOOK_ALLOW_LOOPBACK = False
    hooks.VBG_WEBHOOK_BACKOFF_SECONDS = []
    refused = webhook_deliver(composite_id=ended_job(user, hook.url, "s").pk, attempt=1)
    hooks.VBG_WEBHOOK_ALLOW_LOOPBACK = True
    allowed = webhook_deliver(composite_id=ended_job(user, hook.url, "s").pk, attempt=1)

    assert refused.error.startswith("refused:") and allowed.delivered
    assert len(hook.calls) == 1


def test_token_default_callback_and_cancel(live_server, hooks, token, receiver, tmp_path):
    hook = receiver()
    put = requests.put(
        f"{live_server.url}/api/v1/auth/token/webhook/",
        json={"callback_url": hook.url, "rotate_secret": True},
        headers=token["headers"],
        timeout=30,
    )
    assert put.status_code == 200, put.text
    secret = put.json()["webhook_secret"]
    assert secret.startswith("whsec_") and secret != token["webhook_secret"]
    again = requests.put(
        f"{live_server.url}/api/v1/auth/token/webhook/",
        json={"callback_url": hook.url},
        headers=token["headers"],
        timeout=30,
    )
    assert again.json()["webhook_secret"] is None  # shown once

    created = post_video(live_server, token, tmp_path)  # stays queued (database queue)
    assert created.json()["callback_url"] == hook.url
    hooks.TASKS = IMMEDIATE
    cancelled = requests.post(
        created.json()["url"] + "cancel/", headers=token["headers"], timeout=30
    )

    assert cancelled.json()["status"] == "cancelled"
    assert len(hook.calls) == 1
    assert json.loads(hook.calls[0]["body"])["event"] == "composite.cancelled"
    check_signature(hook.calls[0], secret)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "http://user:pw@x.com/"])
def test_bad_callback_urls_are_a_400(live_server, token, tmp_path, url):
    response = post_video(live_server, token, tmp_path, callback_url=url)

    assert response.status_code == 400
    assert response.json()["code"] in {"invalid_option", "invalid"}
    assert not Composite.objects.exists()


def test_the_tokens_page_shows_the_webhook_secret_once(client_logged_in, user):
    from django.urls import reverse

    from accounts.models import ApiToken

    created = client_logged_in.post(reverse("accounts:tokens"), {"name": "laptop"}, follow=True)
    secret = ApiToken.objects.get(owner=user, name="laptop").webhook_secret

    assert secret.startswith("whsec_") and secret in created.content.decode()
    assert secret not in client_logged_in.get(reverse("accounts:tokens")).content.decode()
