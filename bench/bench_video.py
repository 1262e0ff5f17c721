"""Video backgrounds, end to end: fps, real-time ratio, peak memory, flicker, memory over time.

    VBG_ALLOW_INSECURE_KEY=1 .venv/bin/python bench/bench_video.py [--clip FILE]
        [--still FILE] [--long-minutes 10] [--preset superfast] [--skip-long]

1. **Speed**: ``composite_video`` on ``--clip`` (default the 1280x720, 10 s juggling clip
   in ``../shared/data/videos``), background mode "image": decode, segment (one torch
   thread), temporal smoothing, second pass on the person's crop, guided refinement,
   compositing, H.264 encode, MP4 with
   faststart. Prints frames per second, the ratio to real time, CPU seconds per frame
   (load-independent: on a busy machine wall time is shared, CPU time is not) and the
   main thread's per-stage times. The reference, measured in the same run: a plain PyAV
   transcode (decode -> libx264 with the same preset -> MP4) of the same clip; the ratio
   pipeline / transcode is the figure to compare between machines.
2. **Flicker**: mean absolute frame-to-frame change of the output mask at full resolution
   (``compositing.video.alpha_flicker`` over ``video_masks``): the mask path before issue 10,
   today's without and with temporal smoothing, on a still subject (``--still``, default
   the webcam clip: a person at a desk) and on the moving juggling clip.
3. **Memory over a long clip**: the clip looped (packets remuxed, no re-encode) to
   ``--long-minutes`` minutes, processed while a thread samples the resident set every
   second; prints RSS at the start, at 10 %, 50 %, 90 % and the end, and the slope.

The load average is printed next to every timing: the development machine has 2 cores
shared by several people, so compare runs made at similar load.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vbgsite.settings")
os.environ.setdefault("VBG_ALLOW_INSECURE_KEY", "1")

import django  # noqa: E402  (after the path and settings above)

from compositing.engine import get_frame_segmenter  # noqa: E402
from compositing.segmentation import FrameSegmenter  # noqa: E402
from compositing.video import (  # noqa: E402
    MaskOptions,
    VideoResult,
    alpha_flicker,
    composite_video,
    video_masks,
)

VIDEOS = ROOT.parent / "shared" / "data" / "videos"


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def background() -> np.ndarray:
    from skimage import data

    return data.coffee()


def transcode(source: Path, target: Path, preset: str) -> tuple[int, float]:
    """Reference: decode + encode with the same settings, no compositing."""
    import av

    started = time.perf_counter()
    frames = 0
    with (
        av.open(str(source)) as inp,
        av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        vout = out.add_stream("libx264", rate=vin.average_rate)
        vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
        vout.time_base = vin.time_base
        vout.codec_context.time_base = vin.time_base
        vout.codec_context.thread_count = 2
        vout.codec_context.options = {"preset": preset, "crf": "20"}
        for frame in inp.decode(vin):
            for packet in vout.encode(frame):
                out.mux(packet)
            frames += 1
        for packet in vout.encode():
            out.mux(packet)
    return frames, time.perf_counter() - started


def loop_clip(source: Path, target: Path, minutes: float) -> float:
    """``source`` repeated (video packets copied, timestamps shifted) to ``minutes``."""
    import av

    with av.open(str(source)) as probe:
        stream = probe.streams.video[0]
        clip_seconds = float(stream.duration * stream.time_base)
    loops = max(1, round(minutes * 60 / clip_seconds))
    with av.open(str(target), "w", format="mp4") as out:
        with av.open(str(source)) as first:
            template = first.streams.video[0]
            vout = out.add_stream_from_template(template)
        offset = 0
        for _ in range(loops):
            with av.open(str(source)) as inp:
                vin = inp.streams.video[0]
                last = 0
                for packet in inp.demux(vin):
                    if packet.dts is None:
                        continue
                    last = max(last, packet.pts + (packet.duration or 0))
                    packet.pts += offset
                    packet.dts += offset
                    packet.stream = vout
                    out.mux(packet)
                offset += last
    return loops * clip_seconds


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", type=Path, default=VIDEOS / "outdoor_juggle_sam2.mp4")
    parser.add_argument("--still", type=Path, default=VIDEOS / "webcam_desk_woman_pixabay26732.mp4")
    parser.add_argument("--long-minutes", type=float, default=10.0)
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--preset", default="superfast")
    parser.add_argument("--runs", type=int, default=2, help="speed runs (best is reported)")
    return parser.parse_args()


def load_segmenter() -> FrameSegmenter:
    """The worker's frame segmenter (settings' model, one torch thread), loaded and warmed up."""
    django.setup()
    rss_start = rss_mb()
    segmenter = get_frame_segmenter()
    segmenter(np.zeros((1, 144, 256, 3), np.uint8))  # load + warm up
    rss_model = rss_mb()
    print(f"process RSS: {rss_start:.0f} MB after imports, {rss_model:.0f} MB with the model")
    return segmenter


def bench_speed(args: argparse.Namespace, segmenter: FrameSegmenter, work: Path) -> None:
    """Pipeline runs on ``--clip`` against a plain transcode of it, measured alternately."""
    print(f"\n== speed: {args.clip.name} (preset {args.preset}) ==")
    bg = background()
    for run in range(args.runs):
        frames, seconds = transcode(args.clip, work / "reference.mp4", args.preset)
        ref_fps = frames / seconds
        cpu0 = cpu_seconds()
        result = composite_video(
            args.clip,
            work / "out.mp4",
            segmenter=segmenter,
            mode="image",
            background=bg,
            preset=args.preset,
        )
        cpu = cpu_seconds() - cpu0
        print_speed(run, result, cpu, ref_fps, args.preset)
    print(f"peak RSS so far: {peak_mb():.0f} MB")


def print_speed(run: int, result: VideoResult, cpu: float, ref_fps: float, preset: str) -> None:
    n = result.frames
    stages = {
        k: round(v / n * 1000, 2)
        for k, v in result.timings.items()
        if k in ("segment", "refine", "compose", "wait")
    }
    print(
        f"run {run + 1}: {n} frames {result.width}x{result.height} in "
        f"{result.seconds:.2f} s = {result.fps_processed:.1f} fps, "
        f"{result.duration / result.seconds:.2f}x real time ({load()})"
    )
    print(
        f"  CPU per frame: {cpu / n * 1000:.1f} ms in all ({cpu / result.seconds:.2f} cores"
        f" busy), main thread {result.timings['main_cpu'] / n * 1000:.1f} ms; on 2 idle"
        f" cores that allows {result.fps_on_idle_cores(2):.0f} fps"
    )
    print(f"  main thread wall ms/frame: {stages}")
    print(
        f"  reference transcode (decode + libx264 {preset}, no compositing): "
        f"{ref_fps:.1f} fps; pipeline time / transcode time = "
        f"{ref_fps / result.fps_processed:.2f}"
    )


def bench_flicker(args: argparse.Namespace, segmenter: FrameSegmenter, work: Path) -> None:
    """alpha_flicker of the output masks (full resolution, what is composited): the path
    before issue 10 (whole-frame coarse mask), today's without and with temporal smoothing;
    still and moving subject."""
    print("\n== flicker (mean |alpha_t - alpha_t-1| of the output mask) ==")
    variants = {
        "before issue 10": (True, MaskOptions(second_pass=False, low=0.0, high=1.0)),
        "no smoothing": (False, None),
        "today": (True, None),
    }
    for label, clip in (("still subject", args.still), ("moving subject", args.clip)):
        if not clip.exists():
            print(f"{label}: {clip} missing, skipped")
            continue
        values = {}
        for name, (smoothing, options) in variants.items():
            masks = video_masks(clip, segmenter=segmenter, smoothing=smoothing, options=options)
            values[name] = alpha_flicker(m.astype(np.float32) / 255.0 for m in masks)
        print(f"{label} ({clip.name}): " + ", ".join(f"{k} {v:.5f}" for k, v in values.items()))


def bench_memory(args: argparse.Namespace, segmenter: FrameSegmenter, work: Path) -> None:
    """Resident set sampled every second while ``--clip`` looped to ``--long-minutes`` runs."""
    print(f"\n== memory over a {args.long_minutes:g}-minute clip ==")
    long_clip = work / "long.mp4"
    seconds_of_video = loop_clip(args.clip, long_clip, args.long_minutes)
    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    started = time.perf_counter()

    def sample() -> None:
        while not stop.wait(1.0):
            samples.append((time.perf_counter() - started, rss_mb()))

    bg = background()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    before = rss_mb()
    result = composite_video(
        long_clip, work / "long-out.mp4", segmenter=segmenter, mode="image", background=bg
    )
    stop.set()
    sampler.join()
    rss = [value for _, value in samples]
    marks = {p: rss[min(len(rss) - 1, int(p / 100 * len(rss)))] for p in (10, 50, 90)}
    times = np.array([t for t, _ in samples])
    slope = np.polyfit(times, np.array(rss), 1)[0] * 60 if len(samples) > 2 else 0.0
    print(
        f"{seconds_of_video / 60:.1f} min of video, {result.frames} frames in "
        f"{result.seconds:.0f} s ({result.fps_processed:.1f} fps, {load()}); RSS before "
        f"{before:.0f} MB, at 10 % {marks[10]:.0f}, 50 % {marks[50]:.0f}, 90 % {marks[90]:.0f}, "
        f"max {max(rss):.0f} MB; slope {slope:+.2f} MB/min; peak RSS {peak_mb():.0f} MB"
    )
    print(f"(output {os.path.getsize(work / 'long-out.mp4') / 2**20:.0f} MiB)")


def main() -> None:
    args = parse_args()
    segmenter = load_segmenter()
    work = Path(tempfile.mkdtemp(prefix="bench-video-"))
    bench_speed(args, segmenter, work)
    bench_flicker(args, segmenter, work)
    if not args.skip_long:
        bench_memory(args, segmenter, work)


if __name__ == "__main__":
    main()
