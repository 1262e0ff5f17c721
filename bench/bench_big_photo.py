"""Big photos through the real photo service, in one process: time and peak memory.

    .venv/bin/python bench/bench_big_photo.py [--sizes 864x1152,3000x4000,6000x8000]
        [--runs 3] [--photo FILE] [--threads 1]

For each size, the portrait is scaled to WxH and sent through
``compositing.services.composite_create`` (decode, model, person check, compose onto a
built-in background, encode, store: what a web worker does for ``POST
/api/v1/composites/``), against a fresh SQLite database and media folder in a temporary
directory. Printed per size: the service time (``timings.total_ms``, median of ``--runs``)
and its ratio to the reference measured in the same run (Pillow's decode + JPEG q90
encode of the same bytes, its buffers reused: see ``bench_load.reference_pair``), the
stages, and the peak memory of the composite above the process's resident size before it
(``VmHWM`` after resetting it through ``/proc/self/clear_refs``; Linux only). The issue's
targets: 1 MP and 12 MP at <= 4x the reference; 48 MP within 5 s and +400 MB.
"""

from __future__ import annotations

import argparse
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

from bench_load import (  # noqa: E402
    PORTRAIT,
    STAGES,
    environment,
    photo_jpeg,
    prepare,
    reference_ms,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="864x1152,3000x4000,6000x8000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--photo", default=str(PORTRAIT))
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def peak_over(function) -> tuple[object, float]:
    """(function(), peak resident MB above the resident size before it)."""
    before = _status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    result = function()
    return result, (_status_kb("VmHWM") - before) / 1024.0


def one_size(size: str, args: argparse.Namespace, user, background) -> None:
    from compositing.services import composite_create

    data = photo_jpeg(args.photo, size)
    reference = reference_ms(data, runs=max(3, min(30, int(3e8 / len(data) / 100))))
    totals, peaks, stages = [], [], {key: [] for key in STAGES}
    for _ in range(args.runs):
        composite, peak = peak_over(
            lambda: composite_create(
                user=user, photo=io.BytesIO(data), mode="image", background_id=background
            )
        )
        totals.append(composite.timings["total_ms"])
        peaks.append(peak)
        for key in STAGES:
            stages[key].append(composite.timings.get(key, 0.0))
    total = statistics.median(totals)
    width, height = (int(v) for v in size.split("x"))
    megapixels = width * height / 1e6
    print(
        f"{size} ({megapixels:.1f} MP, JPEG {len(data) // 1024} kB): service time {total:.0f} ms"
        f" median = {total / reference:.1f}x the reference ({reference:.1f} ms);"
        f" peak +{max(peaks):.0f} MB; load {os.getloadavg()[0]:.2f}"
    )
    print(
        "  stages (median ms): "
        + ", ".join(f"{key[:-3]} {statistics.median(values):.0f}" for key, values in stages.items())
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-big-") as folder:
        env = environment(Path(folder), args)
        _token, background = prepare(env)
        os.environ.update(env)  # the database, media folder and rates of the web bench
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vbgsite.settings")
        import django

        django.setup()
        import torch
        from django.contrib.auth import get_user_model

        torch.set_num_threads(args.threads)
        user = get_user_model().objects.get(username="bench")
        started = time.perf_counter()
        one_size("640x800", argparse.Namespace(**{**vars(args), "runs": 2}), user, background)
        print(f"(warm-up above, model loaded in {time.perf_counter() - started:.1f} s)")
        for size in args.sizes.split(","):
            one_size(size, args, user, background)


if __name__ == "__main__":
    main()
