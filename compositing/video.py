"""Video backgrounds: a streaming pipeline, decode → segment → smooth → compose → encode.

No Django, no storage, no torch here: PyAV (FFmpeg), numpy and Pillow. The person mask comes
from a :class:`FrameSegmenter` (the segmentation engine's network at its own resolution,
see :func:`engine_frame_segmenter`), everything else happens in this module.

How a frame flows (three threads, bounded queues, so memory stays flat on any length):

1. **decode thread** — demuxes the source, decodes video frames, converts them to 8-bit
   ``yuv420p`` at the output size (only when the source is not already that) and makes the
   small upright RGB copy the network wants (swscale, about 1 ms). Audio packets are passed
   along untouched, in order.
2. **main thread** — runs the network on a batch of small frames, smooths the probability
   over time (:class:`TemporalSmoother`, at network resolution), refines it to full
   resolution with a fast guided filter whose guide is the frame's own luma plane, and
   composites directly in Y'CbCr: ``out = background + alpha * (frame - background)`` on the
   Y plane at full resolution and on the Cb/Cr planes with a 2x2-averaged alpha. Blending in
   Y'CbCr equals blending in R'G'B' (the conversion is affine), and it saves two colour
   conversions per frame.
3. **encode thread** — libx264 (``yuv420p``, CRF, ``preset`` superfast by default), muxes
   video and the copied audio packets into an MP4 with ``+faststart``.

What is kept from the source: every frame and its timestamp (so frame rate, variable frame
rate and duration are unchanged), the display matrix (rotation metadata: the pixels are
encoded as stored and players rotate them, exactly like the source; the network sees the
upright picture), the sample aspect ratio, the colour matrix tags, and the audio packets
(copied unchanged; only a codec MP4 cannot carry, such as Vorbis or PCM, is re-encoded to
AAC).

Errors a user can cause raise :class:`vbgsite.errors.InvalidVideo` with a reason
(corrupt file, no video stream, unsupported codec or container). A cancel request raises
:class:`VideoCancelled`.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
import av.error
import numpy as np
from PIL import Image, ImageMath

from vbgsite.errors import InvalidOption, InvalidVideo

logger = logging.getLogger(__name__)

__all__ = [
    "FrameSegmenter",
    "TemporalSmoother",
    "VideoCancelled",
    "VideoInfo",
    "VideoResult",
    "alpha_flicker",
    "composite_video",
    "engine_frame_segmenter",
    "guided_refine",
    "output_size",
    "probe_video",
]

# Demuxers we accept (FFmpeg's names): MP4/MOV and Matroska/WebM.
CONTAINERS: dict[str, str] = {"mov,mp4,m4a,3gp,3g2,mj2": "MP4/MOV", "matroska,webm": "WebM/MKV"}
# Video codecs we accept: what phones, cameras, browsers and screen recorders produce.
VIDEO_CODECS: frozenset[str] = frozenset(
    {"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "prores", "mjpeg"}
)
# Audio codecs an MP4 carries and browsers play; anything else is re-encoded to AAC.
MP4_AUDIO_COPY: frozenset[str] = frozenset({"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"})

# Fast guided filter: statistics at about this long side, box radius in pixels of the
# network's probability map (scaled to the statistics grid), eps for a luma guide in 0..1.
_GUIDE_LONG_SIDE = 320
_GUIDE_RADIUS = 2
_GUIDE_EPS = 2e-3
# Default blur of the background (Gaussian sigma) as a share of the frame's long side, and
# the resolution the blur is computed at.
_BLUR_SHARE = 0.015
_BLUR_LONG_SIDE = 240
# Pillow's cache of freed image blocks (see _keep_image_blocks).
_PILLOW_BLOCKS = 32

ProgressCallback = Callable[[int, int, float | None], None]
CancelCheck = Callable[[], bool]


class VideoCancelled(Exception):
    """The cancel check returned True; the partial output must be discarded."""


# --------------------------------------------------------------------------------------
# The segmenter interface


class FrameSegmenter(Protocol):
    """The network, at its own resolution, for a stream of frames.

    ``network_size(width, height)`` -> (height, width) of the input the network wants for an
    *upright* frame of that size (the landscape network for wide frames). ``__call__`` takes
    uint8 Nxhxwx3 RGB (upright, already resized to that size) and returns float32 Nxhxw
    person probabilities in 0..1. ``name`` is recorded on the composite.
    """

    name: str

    def network_size(self, width: int, height: int) -> tuple[int, int]: ...

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


def engine_frame_segmenter(model: str | None = None, *, threads: int | None = 1) -> FrameSegmenter:
    """The segmentation engine's network as a :class:`FrameSegmenter` (loaded lazily, once).

    Uses the engine's own network choice (the landscape network for wide frames) and its
    network-resolution ``probability``; refinement happens here, on the luma plane.

    threads: torch's intra-op thread count for the process from now on (None: leave it).
    One is right for video: decoding and encoding keep the other core busy, and on two
    cores a 2-thread network call waits for a core and spins (measured: 4 fps instead of
    34 on a loaded machine). The task worker runs one job at a time, so this is its
    setting; a web process never runs videos.
    """
    from compositing.segmentation import get_segmenter

    segmenter = get_segmenter(model)
    if threads:
        import torch

        torch.set_num_threads(threads)
    return _EngineFrames(segmenter)


class _EngineFrames:
    """Adapter from the engine's per-image API to batches of small uint8 frames.

    Backends with the selfie network's ``network_for`` get frames at exactly its input size
    (the landscape network for wide frames). Others (the torchvision networks) get frames
    with the short side at their ``input_size`` (256 when unknown) and resize themselves.
    ``probability`` (network resolution) is used when the backend has it, ``segment_rgb``
    otherwise. The engine speaks torch tensors: the conversion to and from numpy happens
    here and nowhere else in this module (zero-copy both ways).
    """

    def __init__(self, segmenter: Any) -> None:
        self.segmenter = segmenter
        self.name: str = segmenter.name

    def network_size(self, width: int, height: int) -> tuple[int, int]:
        network_for = getattr(self.segmenter, "network_for", None)
        if network_for is not None:
            spec, _ = network_for(width, height)
            return int(spec.input_size[0]), int(spec.input_size[1])
        short = int(getattr(self.segmenter, "input_size", 0) or 256)
        scale = short / min(width, height)
        return max(16, round(height * scale)), max(16, round(width * scale))

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import torch  # the engine's dependency; imported only when a video runs

        probability = getattr(self.segmenter, "probability", None)
        results = []
        for frame in batch:
            if probability is not None:
                results.append(probability(torch.from_numpy(frame)).numpy())
            else:
                results.append(self.segmenter.segment_rgb(np.ascontiguousarray(frame)))
        return np.stack(results).astype(np.float32, copy=False)


# --------------------------------------------------------------------------------------
# Probing


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found. Sizes in pixels as stored (before rotation)."""

    container: str  # "MP4/MOV" or "WebM/MKV"
    video_codec: str
    width: int
    height: int
    rotation: int  # degrees counter-clockwise the player rotates the stored picture
    fps: Fraction  # average frame rate (frames per second)
    duration: float  # seconds
    frames: int  # exact when ``frames_exact`` (the container's count), else duration x fps
    audio_codec: str | None
    pix_fmt: str | None
    display_matrix: tuple[int, ...] | None = None  # FFmpeg's 3x3 DISPLAYMATRIX, to copy
    frames_exact: bool = False

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown, rotation applied."""
        if self.rotation % 180:
            return self.height, self.width
        return self.width, self.height


def _open_input(path: str | Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), mode="r", timeout=30)
    except av.error.FileNotFoundError:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidVideo(
            "This file is not a video we can read: it may be corrupt, truncated or not a "
            "video at all."
        ) from exc


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise InvalidVideo("This file has no video stream (audio only or empty).")


def _check_codec(stream: av.video.stream.VideoStream) -> str:
    name = stream.codec_context.name if stream.codec_context is not None else None
    if not name or name not in VIDEO_CODECS:
        shown = name or "unknown"
        raise InvalidVideo(
            f"The video codec {shown!r} is not supported; use H.264, HEVC, VP8, VP9 or AV1 "
            "(MP4, MOV, WebM or MKV)."
        )
    return name


def _frame_rate(stream: av.video.stream.VideoStream) -> Fraction:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < float(rate) <= 1000:
            return Fraction(rate)
    return Fraction(30, 1)


def _duration(container: av.container.InputContainer, stream: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _scan_duration(path: str | Path) -> float:
    """Duration from the last video packet's timestamp (no decoding; for files such as
    browser-recorded WebM whose header has none)."""
    with _open_input(path) as container:
        stream = _video_stream(container)
        last = first = None
        try:
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                end = packet.pts + (packet.duration or 0)
                first = packet.pts if first is None else min(first, packet.pts)
                last = end if last is None else max(last, end)
        except av.error.FFmpegError as exc:
            raise InvalidVideo("This video is corrupt or truncated.") from exc
        if last is None or first is None:
            raise InvalidVideo("This video has no frames.")
        return float((last - first) * stream.time_base)


def probe_video(path: str | Path) -> VideoInfo:
    """Check that ``path`` is a video we can process and describe it (quick: one frame).

    Raises InvalidVideo with a reason a person can act on: not a video / corrupt, a
    container other than MP4/MOV/WebM/MKV, no video stream, an unsupported codec.
    """
    with _open_input(path) as container:
        container_name = CONTAINERS.get(container.format.name)
        if container_name is None:
            raise InvalidVideo(
                f"Videos must be MP4, MOV, WebM or MKV (this one is {container.format.name})."
            )
        stream = _video_stream(container)
        codec = _check_codec(stream)
        stream.thread_type = "AUTO"
        first = _first_frame(container, stream)
        rotation = int(first.rotation)
        display_matrix = _display_matrix(first)
        fps = _frame_rate(stream)
        duration = _duration(container, stream)
        audio = container.streams.audio[0] if container.streams.audio else None
        audio_codec = (
            audio.codec_context.name if audio is not None and audio.codec_context else None
        )
        width = stream.codec_context.width or first.width
        height = stream.codec_context.height or first.height
        frames_header = int(stream.frames or 0)
    if duration is None:
        duration = _scan_duration(path)
    frames = frames_header or max(1, round(duration * float(fps)))
    return VideoInfo(
        container=container_name,
        video_codec=codec,
        width=int(width),
        height=int(height),
        rotation=_normalise_rotation(rotation),
        fps=fps,
        duration=float(duration),
        frames=frames,
        audio_codec=audio_codec,
        pix_fmt=stream.codec_context.pix_fmt if stream.codec_context else None,
        display_matrix=display_matrix,
        frames_exact=frames_header > 0,
    )


def _first_frame(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> av.VideoFrame:
    try:
        for frame in container.decode(stream):
            return frame
    except av.error.FFmpegError as exc:
        raise InvalidVideo(
            "This video is corrupt or truncated: its frames cannot be decoded."
        ) from exc
    raise InvalidVideo("This video has no frames we can decode.")


def _normalise_rotation(degrees: float) -> int:
    """Nearest multiple of 90 in 0..270 (other angles do not occur in practice)."""
    return round(degrees / 90.0) % 4 * 90


def output_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Stored size -> encoded size: at most ``max_side`` on the long side, even sides
    (yuv420p needs them), aspect ratio kept (within a pixel)."""
    scale = min(1.0, max_side / max(width, height))
    out_w = max(2, round(width * scale / 2.0) * 2)
    out_h = max(2, round(height * scale / 2.0) * 2)
    return out_w, out_h


# --------------------------------------------------------------------------------------
# Numeric parts (pure functions on arrays)


class TemporalSmoother:
    """Motion-adaptive exponential smoothing of consecutive person probabilities.

    ``s_t = s_{t-1} + g · (p_t - s_{t-1})`` per pixel, with the gain ``g`` rising from
    ``1 - strength`` for small changes (noise, compression, the network hesitating on an
    edge: heavily damped) to 1 for changes of ``motion`` or more (real movement: followed
    at once, no lag or ghost). When a large share of the frame changes at once (a cut) the
    history is dropped. Works on float32 hxw arrays at network resolution (about 0.2 ms).

    The lag one frame can add is at most ``strength * motion / 4`` (0.1 of alpha with the
    defaults, at a change of ``motion / 2``). Defaults chosen on the clips in
    ``../shared/data/videos`` (``bench/bench_video.py``): flicker on the still webcam
    subject -41 %, and in no frame of the three clips does any pixel of the smoothed alpha
    differ from the per-frame one by more than 0.1 (no visible trail behind movement).
    """

    def __init__(self, *, strength: float = 0.8, motion: float = 0.5, cut: float = 0.25) -> None:
        if not 0.0 <= strength < 1.0:
            raise ValueError("strength must be in [0, 1)")
        self.strength = strength
        self.motion = motion
        self.cut = cut
        self._state: np.ndarray | None = None

    def reset(self) -> None:
        self._state = None

    def __call__(self, probability: np.ndarray) -> np.ndarray:
        """probability: float32 hxw in 0..1 -> smoothed float32 hxw (a new array)."""
        p = np.asarray(probability, dtype=np.float32)
        state = self._state
        if state is None or state.shape != p.shape:
            self._state = p.copy()
            return self._state.copy()
        change = p - state
        magnitude = np.abs(change)
        if float(magnitude.mean()) > self.cut:
            self._state = p.copy()
            return self._state.copy()
        gain = magnitude * (self.strength / self.motion)
        gain += 1.0 - self.strength
        np.minimum(gain, 1.0, out=gain)
        change *= gain
        state = state + change
        self._state = state
        return state.copy()


def alpha_flicker(alphas: Iterable[np.ndarray]) -> float:
    """Mean absolute frame-to-frame alpha change: mean over t of mean |a_t - a_{t-1}|.

    alphas: float arrays (any equal shape) in 0..1, in frame order. On a still subject every
    change is flicker, so lower is better; 0 for fewer than two frames.
    """
    total, pairs, previous = 0.0, 0, None
    for alpha in alphas:
        current = np.asarray(alpha, dtype=np.float32)
        if previous is not None:
            total += float(np.abs(current - previous).mean())
            pairs += 1
        previous = current
    return total / pairs if pairs else 0.0


def _box(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)² window, edges replicated; values: float32 Kxhxw (small maps).

    Separable sums of shifted views (vectorised adds; faster than running sums for the
    small radii used here).
    """
    size = 2 * radius + 1
    padded = np.pad(values, ((0, 0), (radius, radius), (radius, radius)), mode="edge")
    height, width = values.shape[1:]
    rows = padded[:, 0:height].copy()
    for offset in range(1, size):
        rows += padded[:, offset : offset + height]
    out = rows[:, :, 0:width].copy()
    for offset in range(1, size):
        out += rows[:, :, offset : offset + width]
    out *= np.float32(1.0 / (size * size))
    return out


def _resize_float(values: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of a float32 hxw map (Pillow, C)."""
    if values.shape == (height, width):
        return values
    image = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), "F")
    return np.asarray(image.resize((width, height), Image.Resampling.BILINEAR))


def _upsample_smooth(values: np.ndarray, width: int, height: int) -> Image.Image:
    """A smooth float32 hxw map -> an F image of widthxheight (bilinear to half, nearest)."""
    image = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32), "F")
    half = (max(1, (width + 1) // 2), max(1, (height + 1) // 2))
    if half[0] > image.width and half[1] > image.height:
        image = image.resize(half, Image.Resampling.BILINEAR)
        return image.resize((width, height), Image.Resampling.NEAREST)
    return image.resize((width, height), Image.Resampling.BILINEAR)


def _refine_mask(luma: Image.Image, probability: np.ndarray, eps: float) -> Image.Image:
    """:func:`guided_refine` as an 8-bit mask image (L, 0..255), computed in Pillow's C
    code at full resolution (numpy only touches the small maps)."""
    width, height = luma.size
    factor = max(1, round(max(height, width) / _GUIDE_LONG_SIDE))
    guide_image = luma.reduce(factor) if factor > 1 else luma
    low_w, low_h = guide_image.size
    guide = np.asarray(guide_image, np.float32) * np.float32(1.0 / 255.0)
    probability = np.asarray(probability, np.float32)
    # The window must span the soft ramp of the network's edge, which is a couple of
    # *network* pixels wide: the radius is set in those and converted to the grid's scale.
    scale = max(low_w / probability.shape[1], low_h / probability.shape[0])
    radius = max(1, round(_GUIDE_RADIUS * scale))
    p = _resize_float(probability, low_w, low_h)
    means = _box(np.stack([guide, p, guide * p, guide * guide]), radius)
    mean_i, mean_p, corr_ip, corr_ii = means
    a = (corr_ip - mean_i * mean_p) / (corr_ii - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    mean_ab = _box(np.stack([a, b]), radius)
    # alpha · 255 = a · Y + b · 255 with Y in 0..255. The coefficient maps are smooth (two box
    # passes), so bilinear to half size then nearest (2-pixel steps, far below one grey level
    # of alpha) costs half of a full-size bilinear resize.
    scale_a = _upsample_smooth(mean_ab[0], width, height)
    offset = _upsample_smooth(mean_ab[1] * 255.0, width, height)
    alpha = ImageMath.lambda_eval(lambda v: v["a"] * v["y"] + v["b"], a=scale_a, y=luma, b=offset)
    return alpha.convert("L")  # rounds and clips to 0..255


def guided_refine(
    luma: np.ndarray, probability: np.ndarray, *, eps: float = _GUIDE_EPS
) -> np.ndarray:
    """Edge-aware upsampling of a low-resolution probability to the frame's resolution.

    A fast guided filter (He & Sun, 2015) with the frame's luma as the guide: the linear
    model ``alpha = a · Y + b`` is fitted at about 320 px on the long side and applied at
    full resolution, so the mask edge follows the picture's edges (hair, shoulders) instead
    of a blurry bilinear stretch of the network's output. About 6 ms at 1280x720.

    luma: uint8 HxW (the Y plane). probability: float32 hxw in 0..1, any size.
    Returns float32 HxW in 0..1 (8-bit steps).
    """
    mask = _refine_mask(Image.fromarray(np.ascontiguousarray(luma), "L"), probability, eps)
    return np.asarray(mask, np.float32) / 255.0


# Y'CbCr (limited range, 8-bit) from R'G'B': rows Y, Cb, Cr.
_KR_KB = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}


def rgb_to_yuv420(rgb: np.ndarray, matrix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 HxWx3 R'G'B' (H, W even) -> limited-range uint8 planes Y (HxW), Cb, Cr (H/2xW/2).

    matrix: "bt709" or "bt601" — the one the output stream is tagged with.
    """
    kr, kb = _KR_KB[matrix]
    kg = 1.0 - kr - kb
    x = rgb.astype(np.float32) / 255.0
    y = kr * x[..., 0] + kg * x[..., 1] + kb * x[..., 2]
    cb = (x[..., 2] - y) / (2.0 * (1.0 - kb))
    cr = (x[..., 0] - y) / (2.0 * (1.0 - kr))
    height, width = y.shape
    cb = cb.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
    cr = cr.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    def q(v: np.ndarray, scale: float, offset: float) -> np.ndarray:
        return np.clip(np.rint(v * scale + offset), 0, 255).astype(np.uint8)

    return q(y, 219.0, 16.0), q(cb, 224.0, 128.0), q(cr, 224.0, 128.0)


def _blend(frame: np.ndarray, background: np.ndarray, mask: Image.Image) -> np.ndarray:
    """``mask/255 · frame + (1 - mask/255) · background`` on one uint8 plane (Pillow, C)."""
    canvas = Image.fromarray(background, "L")
    canvas.paste(Image.fromarray(frame, "L"), (0, 0), mask)
    return np.asarray(canvas)


def _blurred_planes(
    planes: tuple[np.ndarray, np.ndarray, np.ndarray], probability: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frame's own background with the person left out, blurred.

    A normalised convolution at about 240 px on the long side (only pixels the probability
    calls background are averaged, so the person does not smear into a halo), three box
    passes approximating a Gaussian, then a bilinear upsample. About 2 ms at 720p.
    planes: Y (HxW), Cb, Cr (H/2xW/2) uint8; probability: float32, any small size, stored
    orientation; sigma: Gaussian sigma in full-resolution pixels.
    """
    y, cb, cr = planes
    height, width = y.shape
    factor = max(1, round(max(height, width) / _BLUR_LONG_SIDE))
    low_w, low_h = max(1, width // factor), max(1, height // factor)
    weight = 1.0 - _resize_float(np.asarray(probability, np.float32), low_w, low_h)
    weight = np.clip((weight - 0.5) * 2.0, 0.0, 1.0) + np.float32(1e-3)
    lows = [
        np.asarray(Image.fromarray(plane, "L").resize((low_w, low_h), Image.Resampling.BOX))
        for plane in (y, cb, cr)
    ]
    stack = np.stack([*(low.astype(np.float32) * weight for low in lows), weight])
    # Three box passes of radius r have the variance of a Gaussian with sigma² = ((2r+1)² - 1)/4.
    low_sigma = sigma / factor
    radius = max(1, round((math.sqrt(4.0 * low_sigma * low_sigma + 1.0) - 1.0) / 2.0))
    radius = min(radius, max(1, min(low_w, low_h) // 2))
    for _ in range(3):
        stack = _box(stack, radius)
    means = stack[:3] / stack[3]
    out = []
    for mean, plane in zip(means, (y, cb, cr), strict=True):
        image = Image.fromarray(np.clip(mean + 0.5, 0, 255).astype(np.uint8), "L")
        out.append(np.asarray(image.resize(plane.shape[::-1], Image.Resampling.BILINEAR)))
    return out[0], out[1], out[2]


# --------------------------------------------------------------------------------------
# The pipeline


@dataclass
class VideoResult:
    """What :func:`composite_video` wrote. Times in seconds."""

    frames: int
    width: int
    height: int
    rotation: int
    fps: Fraction
    duration: float
    audio: str | None  # "copied", "aac" (re-encoded) or None
    model_name: str
    seconds: float
    # Seconds: wall time of the main thread's stages ("segment", "refine", "compose", and
    # "wait" for decoded frames), its CPU time ("main_cpu") and the whole process's CPU
    # time ("process_cpu", decoding and encoding threads included).
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def fps_processed(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def fps_on_idle_cores(self, cores: int = 2) -> float:
        """Frames per second this run's CPU work allows on ``cores`` idle cores: the main
        thread's serial work, or the whole process's work spread over the cores, whichever
        is longer. An estimate for a busy machine, where wall time is shared with others."""
        main, total = self.timings.get("main_cpu"), self.timings.get("process_cpu")
        if not main or not total:
            return 0.0
        return self.frames / max(main, total / cores)


@dataclass
class _Background:
    mode: str
    planes: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # fixed Y, Cb, Cr for image/color
    blur_sigma: float = 0.0


_END = object()


class _Pipe:
    """A bounded queue with a shared stop flag (no thread blocks forever on a dead peer)."""

    def __init__(self, size: int, stop: threading.Event) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=size)
        self._stop = stop

    def put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(self) -> Any:
        while True:
            try:
                return self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._stop.is_set():
                    return _END

    def get_nowait(self) -> Any:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            return None


@dataclass
class _Decoded:
    planes: tuple[np.ndarray, np.ndarray, np.ndarray]  # Y, Cb, Cr uint8 (output size)
    small: np.ndarray  # uint8 hxwx3 upright RGB at network size
    pts: int | None
    duration: int | None


@dataclass
class _Packet:
    packet: av.Packet


@dataclass
class _Failure:
    error: BaseException


def _colour_matrix(stream: av.video.stream.VideoStream, height: int) -> str:
    space = stream.codec_context.colorspace
    # AVCOL_SPC_BT709 = 1; BT470BG = 5 and SMPTE170M = 6 are BT.601.
    if space == 1:
        return "bt709"
    if space in (5, 6):
        return "bt601"
    return "bt709" if height >= 720 else "bt601"


def _display_matrix(frame: av.VideoFrame) -> tuple[int, ...] | None:
    for side_data in frame.side_data.values():
        if side_data.type == av.sidedata.sidedata.Type.DISPLAYMATRIX:
            raw = bytes(side_data)
            if len(raw) == 36:
                return struct.unpack("<9i", raw)
    return None


def _small_upright(
    frame: av.VideoFrame, rotation: int, net_size: tuple[int, int], matrix: str
) -> np.ndarray:
    """The frame as upright RGB at the network's size (h, w)."""
    net_h, net_w = net_size
    # Resize in stored orientation to the size that becomes (net_h, net_w) once rotated.
    stored_w, stored_h = (net_h, net_w) if rotation % 180 else (net_w, net_h)
    small = frame.reformat(
        width=stored_w,
        height=stored_h,
        format="rgb24",
        src_colorspace="itu709" if matrix == "bt709" else "itu601",
        interpolation="BILINEAR",
    ).to_ndarray()
    if rotation:
        small = np.ascontiguousarray(np.rot90(small, k=rotation // 90))
    return small


def _planes(frame: av.VideoFrame, width: int, height: int) -> tuple[np.ndarray, ...]:
    if frame.format.name != "yuv420p" or frame.width != width or frame.height != height:
        frame = frame.reformat(
            width=width, height=height, format="yuv420p", interpolation="BICUBIC"
        )
    packed = frame.to_ndarray()  # (H * 3 / 2) x W
    y = packed[:height]
    chroma = packed[height:].reshape(2, height // 2, width // 2)
    return y, chroma[0], chroma[1]


def _decode_loop(
    container: av.container.InputContainer,
    video: av.video.stream.VideoStream,
    audio: Any,
    out: _Pipe,
    *,
    size: tuple[int, int],
    rotation: int,
    net_size: tuple[int, int],
    matrix: str,
) -> None:
    """Decode thread: frames (as _Decoded) and audio packets (as _Packet), then _END."""
    width, height = size
    streams = [video] + ([audio] if audio is not None else [])
    try:
        for packet in container.demux(streams):
            if packet.stream is video:
                for frame in packet.decode():
                    item = _Decoded(
                        planes=_planes(frame, width, height),
                        small=_small_upright(frame, rotation, net_size, matrix),
                        pts=frame.pts,
                        duration=frame.duration or None,
                    )
                    if not out.put(item):
                        return
            elif packet.dts is not None and packet.size and not out.put(_Packet(packet)):
                return
        out.put(_END)
    except av.error.FFmpegError as exc:
        out.put(_Failure(InvalidVideo(f"This video is corrupt or truncated ({exc.strerror}).")))
    except BaseException as exc:
        out.put(_Failure(exc))


class _Encoder:
    """Owns the output container: encodes composited planes, muxes video and audio."""

    def __init__(
        self,
        path: str | Path,
        *,
        source_video: av.video.stream.VideoStream,
        source_audio: Any,
        size: tuple[int, int],
        fps: Fraction,
        display_matrix: tuple[int, ...] | None,
        matrix: str,
        preset: str,
        crf: int,
        threads: int,
    ) -> None:
        width, height = size
        self.container = av.open(
            str(path), mode="w", format="mp4", options={"movflags": "+faststart"}
        )
        stream = self.container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = source_video.time_base
        stream.codec_context.time_base = source_video.time_base
        stream.codec_context.framerate = fps
        stream.codec_context.thread_count = threads
        stream.codec_context.options = {"preset": preset, "crf": str(crf), "profile": "high"}
        sar = source_video.sample_aspect_ratio
        if sar and sar.numerator > 0:
            stream.sample_aspect_ratio = sar
        stream.codec_context.colorspace = 1 if matrix == "bt709" else 6
        stream.codec_context.color_primaries = 1 if matrix == "bt709" else 6
        stream.codec_context.color_trc = 1 if matrix == "bt709" else 6
        stream.codec_context.color_range = 1  # limited ("tv") range
        if display_matrix is not None:
            stream.set_display_matrix(display_matrix)
        self.video = stream
        self.source_time_base = source_video.time_base

        self.audio_mode: str | None = None
        self.audio = None
        self.source_audio = source_audio
        self._resampler = None
        if source_audio is not None:
            name = source_audio.codec_context.name
            if name in MP4_AUDIO_COPY:
                self.audio = self.container.add_stream_from_template(source_audio)
                self.audio_mode = "copied"
            else:
                rate = source_audio.codec_context.sample_rate or 48000
                self.audio = self.container.add_stream("aac", rate=rate)
                self.audio_mode = "aac"
                self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
                self.audio.layout = "stereo"

        self.frames = 0
        self._last_pts: int | None = None
        self._frame_ticks = max(1, round(1 / (fps * self.source_time_base)))

    def _mux(self, packets: Iterable[av.Packet]) -> None:
        for packet in packets:
            self.container.mux(packet)

    def video_frame(
        self, planes: tuple[np.ndarray, ...], pts: int | None, duration: int | None
    ) -> None:
        y, cb, cr = planes
        height, width = y.shape
        packed = np.empty((height * 3 // 2, width), np.uint8)
        packed[:height] = y
        packed[height:].reshape(2, height // 2, width // 2)[:] = (cb, cr)
        frame = av.VideoFrame.from_ndarray(packed, format="yuv420p")
        # Keep every source timestamp; invent one only when missing or not increasing.
        if pts is None or (self._last_pts is not None and pts <= self._last_pts):
            pts = 0 if self._last_pts is None else self._last_pts + self._frame_ticks
        frame.pts = pts
        frame.time_base = self.source_time_base
        if duration:
            frame.duration = duration
        self._last_pts = pts
        self._mux(self.video.encode(frame))
        self.frames += 1

    def audio_packet(self, packet: av.Packet) -> None:
        if self.audio is None:
            return
        if self.audio_mode == "copied":
            packet.stream = self.audio
            self.container.mux(packet)
            return
        for decoded in packet.decode():
            for resampled in self._resampler.resample(decoded):
                self._mux(self.audio.encode(resampled))

    def finish(self) -> None:
        self._mux(self.video.encode(None))
        if self.audio_mode == "aac":
            for resampled in self._resampler.resample(None):
                self._mux(self.audio.encode(resampled))
            self._mux(self.audio.encode(None))
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:
            logger.debug("closing an aborted output failed", exc_info=True)


def _encode_loop(encoder: _Encoder, source: _Pipe, failures: list[BaseException]) -> None:
    """Encode thread: until _END; an error is recorded for the main thread."""
    try:
        while True:
            item = source.get()
            if item is _END:
                return
            if isinstance(item, _Packet):
                encoder.audio_packet(item.packet)
            else:
                planes, pts, duration = item
                encoder.video_frame(planes, pts, duration)
    except BaseException as exc:
        failures.append(exc)


def _make_background(
    *,
    mode: str,
    background: np.ndarray | None,
    color: tuple[int, int, int] | None,
    blur_radius: float | None,
    size: tuple[int, int],
    rotation: int,
    matrix: str,
) -> _Background:
    width, height = size
    if mode == "transparent":
        raise InvalidOption(
            "Videos need a background: H.264 MP4 has no transparency. Pick an image, a "
            "colour or blur."
        )
    if mode == "image":
        if background is None:
            raise InvalidOption("Choose a background image.")
        from compositing.compose import cover

        # Cover the *displayed* frame, then turn it into stored orientation.
        shown_w, shown_h = (height, width) if rotation % 180 else (width, height)
        upright = cover(background, shown_w, shown_h)
        stored = np.ascontiguousarray(np.rot90(upright, k=-(rotation // 90)))
        return _Background("image", rgb_to_yuv420(stored, matrix))
    if mode == "color":
        if color is None:
            raise InvalidOption("Choose a colour.")
        patch = np.empty((2, 2, 3), np.uint8)
        patch[:] = color
        y, cb, cr = rgb_to_yuv420(patch, matrix)
        return _Background(
            "color",
            (
                np.full((height, width), y[0, 0], np.uint8),
                np.full((height // 2, width // 2), cb[0, 0], np.uint8),
                np.full((height // 2, width // 2), cr[0, 0], np.uint8),
            ),
        )
    if mode == "blur":
        sigma = blur_radius if blur_radius else _BLUR_SHARE * max(width, height)
        if not (sigma > 0 and math.isfinite(sigma)):
            raise InvalidOption("The blur radius must be a positive number of pixels.")
        return _Background("blur", None, blur_sigma=float(sigma))
    raise InvalidOption(f"Unknown background mode {mode!r}.")


def _batches(source: _Pipe, limit: int) -> Iterator[list[Any]]:
    """Yield lists of up to ``limit`` items: whatever is ready, without waiting for more."""
    while True:
        first = source.get()
        if first is _END:
            return
        batch = [first]
        while len(batch) < limit and not isinstance(batch[-1], _Failure | _Packet):
            item = source.get_nowait()
            if item is None:
                break
            if item is _END:
                yield batch
                return
            batch.append(item)
        yield batch


def composite_video(
    source: str | Path,
    output: str | Path,
    *,
    segmenter: FrameSegmenter,
    mode: str,
    background: np.ndarray | None = None,
    color: tuple[int, int, int] | None = None,
    blur_radius: float | None = None,
    max_side: int = 1920,
    smoother: TemporalSmoother | None = None,
    smoothing: bool = True,
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    preset: str = "superfast",
    crf: int = 20,
    encoder_threads: int = 2,
    batch: int = 2,
    on_alpha: Callable[[np.ndarray], None] | None = None,
) -> VideoResult:
    """Composite every frame of ``source`` onto a new background, writing H.264 MP4 ``output``.

    source: a local video file (MP4/MOV/WebM/MKV). output: a local path (written from
    scratch; the caller moves it into storage once this returns, so a partial file is
    never published). mode: "image" (``background`` uint8 HxWx3 RGB, any size, covered),
    "color" (``color`` (r, g, b)), "blur" (``blur_radius`` sigma in pixels, default 1.5 %
    of the long side). max_side: frames larger than this (long side, pixels) are scaled
    down. smoothing: temporal smoothing of the mask (``smoother`` to tune it).
    progress(frames_done, frames_total, eta_seconds) is called after every frame (cheap;
    throttle in the callback). should_cancel() is checked after every frame; True raises
    VideoCancelled. on_alpha(probability) receives each smoothed network-resolution
    probability (float32 hxw, upright), for measurements.

    Raises InvalidVideo (unreadable input), InvalidOption (bad mode/background),
    VideoCancelled.
    """
    started = time.perf_counter()
    _keep_image_blocks()
    info = probe_video(source)
    rotation = info.rotation
    size = output_size(info.width, info.height, max_side)
    shown_w, shown_h = (size[1], size[0]) if rotation % 180 else size
    net_size = segmenter.network_size(shown_w, shown_h)
    smoother = smoother or TemporalSmoother()
    timings = {"segment": 0.0, "refine": 0.0, "compose": 0.0, "wait": 0.0}

    container = _open_input(source)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    encoder: _Encoder | None = None
    finished = False
    try:
        video = _video_stream(container)
        video.thread_type = "AUTO"
        audio = container.streams.audio[0] if container.streams.audio else None
        matrix = _colour_matrix(video, size[1])
        plan = _make_background(
            mode=mode,
            background=background,
            color=color,
            blur_radius=blur_radius,
            size=size,
            rotation=rotation,
            matrix=matrix,
        )
        encoder = _Encoder(
            output,
            source_video=video,
            source_audio=audio,
            size=size,
            fps=info.fps,
            display_matrix=info.display_matrix,
            matrix=matrix,
            preset=preset,
            crf=crf,
            threads=encoder_threads,
        )
        decoded = _Pipe(max(4, 2 * batch), stop)
        composited = _Pipe(6, stop)
        failures: list[BaseException] = []
        threads = [
            threading.Thread(
                target=_decode_loop,
                args=(container, video, audio, decoded),
                kwargs={"size": size, "rotation": rotation, "net_size": net_size, "matrix": matrix},
                name="video-decode",
                daemon=True,
            ),
            threading.Thread(
                target=_encode_loop,
                args=(encoder, composited, failures),
                name="video-encode",
                daemon=True,
            ),
        ]
        for thread in threads:
            thread.start()

        frames_total = max(1, info.frames)
        done = 0
        process_cpu, main_cpu = _process_cpu(), time.thread_time()
        waited = time.perf_counter()
        for items in _batches(decoded, batch):
            timings["wait"] += time.perf_counter() - waited
            frames: list[_Decoded] = []
            for item in items:
                if isinstance(item, _Failure):
                    raise item.error
                if isinstance(item, _Packet):
                    _put(composited, item, failures)
                else:
                    frames.append(item)
            if not frames:
                continue
            t0 = time.perf_counter()
            probabilities = segmenter(np.stack([f.small for f in frames]))
            timings["segment"] += time.perf_counter() - t0
            for frame, probability in zip(frames, probabilities, strict=True):
                t0 = time.perf_counter()
                if smoothing:
                    probability = smoother(probability)
                if on_alpha is not None:
                    on_alpha(probability)
                stored = np.rot90(probability, k=-(rotation // 90)) if rotation else probability
                luma = Image.fromarray(frame.planes[0], "L")
                mask = _refine_mask(luma, stored, _GUIDE_EPS)
                t1 = time.perf_counter()
                timings["refine"] += t1 - t0
                planes = _compose_planes(frame.planes, mask, stored, plan)
                timings["compose"] += time.perf_counter() - t1
                _put(composited, (planes, frame.pts, frame.duration), failures)
                done += 1
                if done > frames_total:
                    frames_total = done
                if progress is not None:
                    elapsed = time.perf_counter() - started
                    eta = elapsed / done * (frames_total - done)
                    progress(done, frames_total, eta)
                if should_cancel is not None and should_cancel():
                    raise VideoCancelled()
            waited = time.perf_counter()
        if done == 0:
            raise InvalidVideo("This video has no frames we can decode.")
        if info.frames_exact and done < 0.95 * info.frames - 1:
            raise InvalidVideo(
                f"This video is truncated or damaged: only {done} of its {info.frames} frames "
                "could be decoded."
            )
        if not composited.put(_END):
            raise RuntimeError("the encoder stopped early")
        threads[1].join()
        if failures:
            raise failures[0]
        encoder.finish()
        finished = True
        audio_mode = encoder.audio_mode
        timings["main_cpu"] = time.thread_time() - main_cpu
        timings["process_cpu"] = _process_cpu() - process_cpu
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        if encoder is not None and not finished:
            encoder.abort()
        container.close()

    frame_time = 1 / info.fps
    return VideoResult(
        frames=done,
        width=size[0],
        height=size[1],
        rotation=rotation,
        fps=info.fps,
        duration=info.duration if info.duration else float(done * frame_time),
        audio=audio_mode,
        model_name=getattr(segmenter, "name", ""),
        seconds=time.perf_counter() - started,
        timings=timings,
    )


def _keep_image_blocks() -> None:
    """Let Pillow reuse freed image memory instead of returning it to the OS each time.

    Every full-resolution intermediate (masks, upsampled maps) is a fresh allocation;
    without a cache each one page-faults its memory in again, which doubled the refine
    step's time here (15 ms -> 7 ms at 720p). Process-wide and bounded (a few frames'
    worth of blocks), so memory stays flat.
    """
    if Image.core.get_blocks_max() < _PILLOW_BLOCKS:
        Image.core.set_blocks_max(_PILLOW_BLOCKS)


def _process_cpu() -> float:
    """CPU seconds of the whole process (all threads, FFmpeg's own included)."""
    times = os.times()
    return times.user + times.system


def _put(pipe: _Pipe, item: object, failures: list[BaseException]) -> None:
    if failures:
        raise failures[0]
    if not pipe.put(item):
        raise failures[0] if failures else RuntimeError("the encoder stopped early")


def _compose_planes(
    planes: tuple[np.ndarray, np.ndarray, np.ndarray],
    mask: Image.Image,
    probability: np.ndarray,
    plan: _Background,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blend Y at full resolution and Cb/Cr with the 2x2-averaged mask (L image, 0..255)."""
    y, cb, cr = planes
    chroma_mask = mask.reduce(2)
    if plan.mode == "blur":
        background = _blurred_planes(planes, probability, plan.blur_sigma)
    else:
        assert plan.planes is not None
        background = plan.planes
    return (
        _blend(y, background[0], mask),
        _blend(cb, background[1], chroma_mask),
        _blend(cr, background[2], chroma_mask),
    )
