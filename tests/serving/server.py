"""The real web command (the Procfile's ``web``: gunicorn with vbgsite/gunicorn_conf.py) on
127.0.0.1, on a fresh SQLite database and media folder, with one user and an API token."""

from __future__ import annotations

import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
USER_SCRIPT = """
from django.contrib.auth import get_user_model
from accounts.services import token_create
user = get_user_model().objects.create_user("server", password="server-Password-1")
print(token_create(user=user, name="server")[1])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_web() -> list[str]:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return shlex.split(line.partition(":")[2])
    raise AssertionError("no web: line in the Procfile")


@dataclass
class WebServer:
    process: subprocess.Popen
    port: int
    token: str
    started: float  # time.monotonic() when the command was launched

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        """(status, body bytes) of one request."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def composite(self, photo: bytes):
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="color"\r\n\r\n#00ff00\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
                'filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
            ).encode()
            + photo
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {
            "Authorization": f"Token {self.token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        return self.request("POST", "/api/v1/composites/", body, headers)

    def workers(self) -> list[int]:
        pids: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            pids.extend(int(p) for p in (task / "children").read_text().split())
        return sorted(pids)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def private_mb(pid: int) -> float:
    """Memory only this process holds (smaps_rollup Private_Clean + Private_Dirty), MB."""
    total = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Clean:", "Private_Dirty:")):
            total += int(line.split()[1])
    return total / 1024


def start(
    folder: Path, model_dir: Path, command: list[str] | None = None, **extra_env: str
) -> WebServer:
    """Launch ``command`` (default: the Procfile's web command) and wait for both workers."""
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "MEDIA_ROOT": str(folder / "media"),
        "VBG_MODEL_DIR": str(model_dir),
        "VBG_ALLOW_INSECURE_KEY": "1",
        "DEBUG": "0",
        "SECURE_SSL_REDIRECT": "0",
        "VBG_API_RATE_USER": "100000/hour",
        "VBG_API_RATE_COMPOSITE": "100000/hour",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "LOG_LEVEL": "WARNING",
        **extra_env,
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    for step in (["migrate", "--noinput"], ["createcachetable"]):
        subprocess.run([*manage, *step], env=env, cwd=ROOT, check=True, capture_output=True)
    made = subprocess.run(
        [*manage, "shell", "-c", USER_SCRIPT],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    token = made.stdout.split()[-1]
    started = time.monotonic()
    process = subprocess.Popen(
        command or procfile_web(),
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = WebServer(process=process, port=port, token=token, started=started)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, "the web command exited"
        try:
            server.request("GET", "/accounts/login/")
            if len(server.workers()) == 2:
                return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError("the web command did not answer within 120 s")
