"""Two checkouts' web commands side by side, their composites alternated one at a time.

    git worktree add /tmp/before <commit>   # the build to compare against
    .venv/bin/python bench/bench_ab.py /tmp/before . [--runs 100]

On a machine whose speed drifts from minute to minute (a shared 2-vCPU VM), two runs of
``bench_load.py`` one after the other can differ by more than the change being measured.
Here both builds are served at once (this checkout's Procfile web command, gunicorn with
``--workers`` each, run in each checkout on its own port, database and media folder), and
one client sends them a 1 MP portrait in turn, one composite at a time: whatever the
machine does, both get the same share of it.
Printed per checkout: the service time (the server's own ``timings.total_ms``: median and
quartiles of ``--runs`` composites), its ratio to the reference measured in the same run
(``bench_load.reference_pair``: Pillow's decode + encode, buffers reused) and the stages'
medians. The checkouts share this interpreter's environment (a worktree with a link to
this ``.venv``), and their databases are migrated by this checkout's ``manage.py``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import (
    PORTRAIT,
    STAGES,
    Client,
    environment,
    photo_jpeg,
    prepare,
    reference_pair,
    wait_until_up,
    web_command,
)

FIRST_PORT = 8731


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkouts", nargs=2, type=Path, help="two checkouts: before, after")
    parser.add_argument("--runs", type=int, default=100, help="composites per checkout")
    parser.add_argument("--photo", default=str(PORTRAIT))
    parser.add_argument("--size", default="864x1152")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY of each")
    return parser.parse_args(argv)


def start(checkout: Path, index: int, args: argparse.Namespace, photo: bytes, folder: Path):
    """Checkout's web command on its own port, database and media: (process, client)."""
    server_args = argparse.Namespace(port=FIRST_PORT + index, workers=args.workers, web=None)
    env = environment(folder, server_args)
    token, background = prepare(env)
    process = subprocess.Popen(
        web_command(argparse.Namespace(web=None)),
        env=env,
        cwd=checkout,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = Client(server_args.port, token, background, photo)
    wait_until_up(client, process)
    return process, client


def report(checkout: Path, client: Client, reference: float) -> None:
    totals = sorted(t["total_ms"] for t in client.timings)
    quarter = len(totals) // 4
    median = statistics.median(totals)
    stages = ", ".join(
        f"{key[:-3]} {statistics.median(t.get(key, 0.0) for t in client.timings):.1f}"
        for key in STAGES
    )
    print(
        f"{checkout}: service time {median:.1f} ms median (quartiles {totals[quarter]:.1f}"
        f"-{totals[-quarter - 1]:.1f}) = {median / reference:.2f}x the reference"
        f" ({reference:.1f} ms)\n  stages (median ms): {stages}"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    photo = photo_jpeg(args.photo, args.size)
    processes = []
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as folder:
        try:
            clients = []
            for index, checkout in enumerate(args.checkouts):
                home = Path(folder) / str(index)
                home.mkdir()
                process, client = start(checkout.resolve(), index, args, photo, home)
                processes.append(process)
                clients.append(client)
            for client in clients:  # warm: each worker's first composites
                for _ in range(3 * args.workers):
                    client.composite()
                client.timings.clear()
            reference = reference_pair(photo)[0]
            for _ in range(args.runs):
                for client in clients:
                    client.composite()
            for checkout, client in zip(args.checkouts, clients, strict=True):
                report(checkout, client, reference)
        finally:
            for process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=30)


if __name__ == "__main__":
    main()
