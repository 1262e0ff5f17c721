"""Segmentation engine benchmark: speed against TFLite, 1080p latency, memory, quality.

    .venv/bin/python bench/bench_segmentation.py [--rounds 200] [--threads 2]
        [--model-dir models] [--data ../shared/data/portraits-dev] [--skip-quality]

1. Raw network: the torch port vs the TFLite interpreter (ai-edge-litert, XNNPACK) on the
   same model and input, same thread count, calls interleaved so all see the same machine
   load; medians and the ratio (target <= 2). Both variants (256x256, 144x256); the torch
   figures are the eager ``nn.Module`` and the engine's runtime (the same module traced
   and frozen with TorchScript, bit-identical output).
2. ``segment()`` of a 1920x1080 photo, refinement included (ndarray input, and a PIL image
   input which adds Pillow's RGB unpacking), next to the plain-bilinear reference pipeline
   in the same rounds (target median <= 40 ms).
3. Memory, in a fresh process: RSS after ``import torch``, then the increase after loading
   the model and serving 1080p photos (target <= 100 MB).
4. Quality on the portraits dev set (if present): the bilinear reference, + guided
   refinement, + second pass, per group (file-name prefix).

The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
DEFAULT_DATA = BASE_DIR.parent / "shared" / "data" / "portraits-dev"


def photo_1080p() -> np.ndarray:
    """scikit-image's astronaut scaled to cover 1920x1080 and centre-cropped (uint8 RGB)."""
    from skimage import data

    photo = Image.fromarray(data.astronaut())
    scale = max(1920 / photo.width, 1080 / photo.height)
    photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.LANCZOS)
    left, top = (photo.width - 1920) // 2, (photo.height - 1080) // 2
    return np.ascontiguousarray(np.asarray(photo.crop((left, top, left + 1920, top + 1080))))


def interleaved(functions: dict, rounds: int, warmup: int = 10) -> dict[str, list[float]]:
    """Run each function once per round, in turn; per-call wall times in ms."""
    for _ in range(warmup):
        for function in functions.values():
            function()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append((time.perf_counter() - start) * 1000.0)
    return times


def bench_network(model_dir: Path, threads: int, rounds: int) -> list[dict]:
    import torch
    from ai_edge_litert.interpreter import Interpreter

    from compositing.segmentation.backends.selfie import _frozen
    from compositing.segmentation.selfie_net import selfie_segmentation_net
    from compositing.segmentation.weights.catalog import SELFIE_WEIGHTS, source_path
    from compositing.segmentation.weights.mediapipe import load_weights

    rows = []
    for spec in SELFIE_WEIGHTS:
        height, width = spec.input_size
        x = np.random.default_rng(0).random((1, height, width, 3), dtype=np.float32)
        interpreter = Interpreter(model_path=str(source_path(spec, model_dir)), num_threads=threads)
        interpreter.allocate_tensors()
        input_index = interpreter.get_input_details()[0]["index"]
        output_index = interpreter.get_output_details()[0]["index"]

        def tflite(interpreter=interpreter, i=input_index, o=output_index, x=x):
            interpreter.set_tensor(i, x)
            interpreter.invoke()
            return interpreter.get_tensor(o)

        network = selfie_segmentation_net(load_weights(spec, model_dir))
        network = network.to(memory_format=torch.channels_last)
        tensor = torch.from_numpy(x).permute(0, 3, 1, 2)  # NHWC memory = channels-last

        with torch.inference_mode():
            frozen = _frozen(network, tensor)  # what the engine runs (same arithmetic)

        def port(network=network, tensor=tensor):
            with torch.inference_mode():
                return torch.sigmoid(network(tensor))

        def engine(frozen=frozen, tensor=tensor):
            with torch.inference_mode():
                return torch.sigmoid(frozen(tensor))

        times = interleaved({"tflite": tflite, "module": port, "engine": engine}, rounds)
        tflite_ms, module_ms, engine_ms = (
            statistics.median(times[k]) for k in ("tflite", "module", "engine")
        )
        rows.append(
            {
                "model": spec.name,
                "input": f"{width}x{height}",
                "tflite_ms": round(tflite_ms, 3),
                "torch_module_ms": round(module_ms, 3),
                "torch_engine_ms": round(engine_ms, 3),
                "ratio_module": round(module_ms / tflite_ms, 2),
                "ratio_engine": round(engine_ms / tflite_ms, 2),
            }
        )
    return rows


def bench_segment(rounds: int) -> dict:
    from compositing.segmentation import get_segmenter

    photo = photo_1080p()
    pil_photo = Image.fromarray(photo)
    selfie, reference = get_segmenter("selfie"), get_segmenter("selfie_bilinear")
    times = interleaved(
        {
            "segment_ndarray": lambda: selfie.segment(photo),
            "segment_pil": lambda: selfie.segment(pil_photo),
            "reference_bilinear_ndarray": lambda: reference.segment(photo),
            "pil_to_array": lambda: np.asarray(pil_photo),
        },
        rounds,
        warmup=3,
    )
    return {name: round(statistics.median(values), 1) for name, values in times.items()}


_MEMORY_PROBE = """
import json, os, sys
import numpy as np
def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
import torch
torch.set_num_threads({threads})
base = rss()
sys.path.insert(0, {base_dir!r})
sys.path.insert(0, {bench_dir!r})
from bench_segmentation import photo_1080p
photos = [photo_1080p(), np.ascontiguousarray(photo_1080p()[:, ::-1])]
with_photos = rss()
from compositing.segmentation import configure, get_segmenter
configure(model_dir={model_dir!r}, threads={threads}, tune_malloc={tune})
segmenter = get_segmenter("selfie")
loaded = rss()
peak = loaded
for i in range(20):
    segmenter.segment(photos[i % 2])
    peak = max(peak, rss())
after = rss()
print(json.dumps({{
    "import_torch_mb": round(base),
    "model_load_mb": round(loaded - with_photos, 1),
    "serving_1080p_mb": round(after - with_photos, 1),
    "peak_over_torch_mb": round(peak - with_photos, 1),
}}))
"""


def bench_memory(model_dir: Path, threads: int, tune_malloc: bool) -> dict:
    code = _MEMORY_PROBE.format(
        threads=threads,
        base_dir=str(BASE_DIR),
        bench_dir=str(BASE_DIR / "bench"),
        model_dir=str(model_dir),
        tune=tune_malloc,
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=BASE_DIR
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_quality(data: Path) -> dict:
    from compositing.segmentation import get_segmenter
    from compositing.segmentation.evaluate import evaluate_directory

    configurations = {
        "bilinear (reference)": "selfie_bilinear",
        "+ guided refinement": "selfie_single",
        "+ second pass (default)": "selfie",
    }
    return {
        label: evaluate_directory(data, get_segmenter(name).segment)
        for label, name in configurations.items()
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="network rounds")
    parser.add_argument("--segment-rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model-dir", default=os.environ.get("VBG_MODEL_DIR", "models"))
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument(
        "--omp-wait-policy",
        choices=("engine", "PASSIVE", "ACTIVE", "unset"),
        default="engine",
        help="OpenMP wait policy for torch: the engine's default (set when the package is "
        "imported before torch), or an explicit one",
    )
    return parser.parse_args(argv)


def set_up_runtime(omp_wait_policy: str, model_dir: Path, threads: int):
    """Apply the OpenMP wait policy, import torch and configure the engine; return torch.

    The order matters: OpenMP reads its settings when torch loads, and the segmentation
    package sets its default policy on import, so it must be imported before torch.
    """
    if omp_wait_policy in ("PASSIVE", "ACTIVE"):
        os.environ["OMP_WAIT_POLICY"] = omp_wait_policy
    elif omp_wait_policy == "unset":
        os.environ.pop("OMP_WAIT_POLICY", None)
        import torch  # OpenMP reads its settings now, before the package sets a default
    # The package sets its OpenMP default on import; it must come before torch loads.
    importlib.import_module("compositing.segmentation")
    import torch

    if omp_wait_policy == "unset":
        os.environ.pop("OMP_WAIT_POLICY", None)  # report what torch's runtime actually read

    from compositing.segmentation import configure

    torch.set_num_threads(threads)
    configure(model_dir=model_dir, threads=threads)
    from compositing.segmentation import get_segmenter

    get_segmenter("selfie")  # apply the runtime set-up (threads, malloc) before timing
    return torch


def measure_networks(report: dict, torch, model_dir: Path, threads: int, rounds: int) -> None:
    """Section 1: the raw network at the configured thread count, then at one thread."""
    report["network"] = bench_network(model_dir, threads, rounds)
    # Also one thread each: robust to other processes on the cores (torch's OpenMP barriers
    # stall when a worker thread is descheduled; XNNPACK's work-stealing pool does not).
    torch.set_num_threads(1)
    report["network_1_thread"] = bench_network(model_dir, 1, rounds)
    torch.set_num_threads(threads)


def print_networks(report: dict, threads: int, rounds: int) -> None:
    print(f"\n1. raw network, {rounds} interleaved rounds, median ms (target ratio <= 2)")
    for key, key_threads in (("network", threads), ("network_1_thread", 1)):
        for row in report[key]:
            print(
                f"  {row['model']:30} {row['input']:7} threads {key_threads}  "
                f"tflite {row['tflite_ms']:6.3f}  torch eager module {row['torch_module_ms']:6.3f} "
                f"(ratio {row['ratio_module']:.2f})  engine (frozen) {row['torch_engine_ms']:6.3f} "
                f"(ratio {row['ratio_engine']:.2f})"
            )


def print_segment(report: dict, rounds: int) -> None:
    print(f"\n2. segment() of 1920x1080, {rounds} rounds, median ms (target <= 40)")
    for name, value in report["segment_1080p_ms"].items():
        print(f"  {name:30} {value:8.1f}")


def measure_memory(report: dict, model_dir: Path, threads: int) -> None:
    """Section 3: memory in a fresh process, with and without the malloc tuning."""
    report["memory"] = bench_memory(model_dir, threads, tune_malloc=True)
    report["memory_without_malloc_tuning"] = bench_memory(model_dir, threads, tune_malloc=False)


def print_memory(report: dict) -> None:
    print("\n3. memory (fresh process, RSS MB; target: model + serving 1080p <= 100 MB)")
    for label in ("memory", "memory_without_malloc_tuning"):
        print(f"  {label:30} {report[label]}")


def print_quality(quality: dict, data: Path) -> None:
    print(f"\n4. quality on {data} (threshold 0.5)")
    groups = sorted(next(iter(quality.values()))["groups"])
    print(f"  {'pipeline':26} {'group':8} {'n':>3} {'mIoU':>7} {'pooled':>7} {'acc':>7} {'MAD':>8}")
    for label, result in quality.items():
        for group in ["all", *groups]:
            metrics = result if group == "all" else result["groups"][group]
            print(
                f"  {label:26} {group:8} {metrics['images']:3d} "
                f"{metrics['miou_per_image']:7.4f} {metrics['iou_pooled']:7.4f} "
                f"{metrics['pixel_accuracy']:7.4f} {metrics['mad']:8.5f}"
            )


def print_load_average(report: dict) -> None:
    print(
        f"\nload average (1 min) at start {report['load_average_at_start']:.2f}, end "
        f"{report['load_average_at_end']:.2f} on {os.cpu_count()} cores"
    )


def main() -> None:
    args = parse_args()
    model_dir = (BASE_DIR / args.model_dir).resolve()
    torch = set_up_runtime(args.omp_wait_policy, model_dir, args.threads)

    report: dict = {
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset (libgomp default)"),
        "threads": args.threads,
        "torch": torch.__version__,
        "load_average_at_start": os.getloadavg()[0],
    }
    print(
        f"torch threads = {args.threads}, TFLite threads = {args.threads}, "
        f"OMP_WAIT_POLICY = {report['omp_wait_policy']}"
    )

    measure_networks(report, torch, model_dir, args.threads, args.rounds)
    print_networks(report, args.threads, args.rounds)

    report["segment_1080p_ms"] = bench_segment(args.segment_rounds)
    print_segment(report, args.segment_rounds)

    measure_memory(report, model_dir, args.threads)
    print_memory(report)

    data = Path(args.data)
    if not args.skip_quality and data.is_dir():
        report["quality"] = bench_quality(data)
        print_quality(report["quality"], data)

    report["load_average_at_end"] = os.getloadavg()[0]
    print_load_average(report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
