"""Variants of the photo path compared in one process, their composites alternated.

    .venv/bin/python bench/bench_variants.py bench/variants/switch_interval.py [--runs 100]

``bench_ab.py`` compares two commits' web commands; a change that is one function can be
tried faster, and with less noise, here: a variants file defines ``VARIANTS``, a dict of
name -> a function that switches the process to that variant (typically by patching a
module attribute, and switching it back for the other names). Each round calls every
variant's function, then makes one 1 MP composite (``photos.composite_create``, looked up
each round so a variant may replace it too; a built-in background, SQLite and media in a
temporary folder). Side threads already started keep the code they run: a variant that
patches their loop sets ``engine._beside = None`` for a new pool. The process is set up
as a gunicorn worker is (malloc arenas and thresholds, torch and OpenCV at one thread, the
model warmed as in the master and the worker, ``gc.freeze``). Printed per variant: the median of the
server's ``timings.total_ms`` (the service time ``bench_load`` reports) with its quartiles,
and the stages' medians. The machine's drift shifts every variant alike.
"""

from __future__ import annotations

import argparse
import ctypes
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

STAGES = ("decode_ms", "segment_ms", "person_check_ms", "compose_ms", "encode_ms", "store_ms")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", type=Path, help="a Python file that defines VARIANTS")
    parser.add_argument("--runs", type=int, default=100, help="composites per variant")
    parser.add_argument("--size", default="864x1152")
    return parser.parse_args(argv)


def worker_like_process(folder: Path) -> None:
    """Django set up on a fresh SQLite database and media folder, in a web worker's settings."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="vbgsite.settings",
        VBG_ALLOW_INSECURE_KEY="1",
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        MEDIA_ROOT=str(folder / "media"),
        DEBUG="0",
        VBG_API_RATE_COMPOSITE="1000000/hour",
        VBG_TORCH_THREADS="1",
    )
    import django

    django.setup()
    import cv2

    from vbgsite import gunicorn_conf

    cv2.setNumThreads(1)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, gunicorn_conf._ARENAS)  # M_ARENA_MAX
        libc.mallopt(-3, gunicorn_conf._MMAP_THRESHOLD)
        libc.mallopt(-1, gunicorn_conf._TRIM_THRESHOLD)
    from django.core.management import call_command

    for command in ("migrate", "createcachetable", "seed_backgrounds"):
        call_command(command, verbosity=0)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    worker_like_process(Path(tempfile.mkdtemp(prefix="bench-variants-")))
    import gc

    from bench_load import PORTRAIT, photo_jpeg
    from django.contrib.auth import get_user_model

    from backgrounds.models import Background
    from compositing import engine
    from compositing.services import photos

    user = get_user_model().objects.create_user("bench", password="bench-Password-1")
    background = Background.objects.filter(owner=None).order_by("name").first().pk
    photo = photo_jpeg(str(PORTRAIT), args.size)
    engine.warm_up()  # as the gunicorn master does, then the worker
    engine._threads_override = 1
    engine.worker_warm_up()
    gc.collect()
    gc.freeze()
    namespace: dict = {"__name__": "variants"}
    exec(compile(args.variants.read_text(), str(args.variants), "exec"), namespace)
    variants = namespace["VARIANTS"]
    timings: dict[str, list[dict]] = {name: [] for name in variants}
    for round_ in range(args.runs + 4):  # the first rounds warm every variant
        for name, switch in variants.items():
            switch()
            made = photos.composite_create(  # looked up each time: a variant may replace it
                user=user, photo=io.BytesIO(photo), mode="image", background_id=background
            )
            if round_ >= 4:
                timings[name].append(made.timings)
            time.sleep(0.02)  # as between a client's requests
    for name, runs in timings.items():
        totals = [run["total_ms"] for run in runs]
        first, _, third = statistics.quantiles(totals, n=4)
        stages = ", ".join(
            f"{key[:-3]} {statistics.median(run.get(key, 0.0) for run in runs):.1f}"
            for key in STAGES
        )
        print(
            f"{name}: service time {statistics.median(totals):.1f} ms median"
            f" (quartiles {first:.1f}-{third:.1f}); {stages}"
        )


if __name__ == "__main__":
    main()
