"""A worker's first composites after a start, over several starts of the web command.

    .venv/bin/python bench/bench_first.py [--starts 8] [--composites 4] [--checkout DIR]

``bench_load.py`` measures the first composite of one start; on a 2-vCPU machine that one
figure moves by ±25 % from start to start. Here the Procfile's web command (the same
environment as ``bench_load``: 127.0.0.1, SQLite and media in a temporary folder, 2
workers) is started ``--starts`` times; each time one client sends ``--composites``
composites of a 1 MP portrait onto a built-in background, one after the other. Printed:
per position (1st, 2nd, ... composite after the start) the medians over the starts of the
server's own ``timings.total_ms``, of its stages, and of the wall time over HTTP. The
first composite of each worker pays its first use of the background (read, decode and
cover: the canvas cache is per process) and its first touch of buffers the warm-up did
not make; the two workers share the first requests, so the 2nd is often a first too.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import (
    PORTRAIT,
    ROOT,
    STAGES,
    Client,
    environment,
    photo_jpeg,
    prepare,
    wait_until_up,
    web_command,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=8, help="starts of the web command")
    parser.add_argument("--composites", type=int, default=4, help="composites per start")
    parser.add_argument("--photo", default=str(PORTRAIT))
    parser.add_argument("--size", default="864x1152")
    parser.add_argument("--port", type=int, default=8797)
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY")
    parser.add_argument(
        "--checkout",
        type=Path,
        default=ROOT,
        help="the checkout whose web command is started (a worktree of another commit with"
        " a link to this .venv and models; its database is migrated by this checkout)",
    )
    return parser.parse_args(argv)


def one_start(args: argparse.Namespace, env: dict[str, str], client: Client) -> list[float]:
    """Start the web command, send the composites one by one; their wall times (ms)."""
    process = subprocess.Popen(
        web_command(argparse.Namespace(web=None)),
        env=env,
        cwd=args.checkout,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(client, process)
        walls = []
        for _ in range(args.composites):
            started = time.perf_counter()
            status = client.composite()
            if status != 201:
                raise SystemExit(f"a composite answered {status}")
            walls.append((time.perf_counter() - started) * 1000.0)
        return walls
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-first-"))
    env = environment(folder, args)
    token, background = prepare(env)
    photo = photo_jpeg(args.photo, args.size)
    walls: list[list[float]] = []
    timings: list[list[dict]] = []
    for _ in range(args.starts):
        client = Client(args.port, token, background, photo)
        walls.append(one_start(args, env, client))
        timings.append(client.timings[-args.composites :])
    count = f"{args.starts} starts, {args.composites} composites each"
    print(f"{args.checkout}: {count} ({args.size}):")
    for index in range(args.composites):
        totals = [run[index].get("total_ms", 0.0) for run in timings]
        stages = ", ".join(
            f"{key[:-3]} {statistics.median(run[index].get(key, 0.0) for run in timings):.1f}"
            for key in STAGES
        )
        wall = statistics.median(run[index] for run in walls)
        print(
            f"  composite {index + 1}: service time {statistics.median(totals):.1f} ms median"
            f" ({min(totals):.1f}-{max(totals):.1f}), over HTTP {wall:.1f} ms; {stages}"
        )
    last = statistics.median(run[-1] for run in walls)
    first = statistics.median(run[0] for run in walls)
    print(f"first over HTTP / last: {first / last:.2f}")


if __name__ == "__main__":
    main()
