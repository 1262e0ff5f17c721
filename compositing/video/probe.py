"""What a video file is: container, codec, size, rotation, frame rate, duration, audio.

:func:`probe_video` is quick (it decodes one frame) and raises
:class:`vbgsite.errors.InvalidVideo` with a reason a person can act on.
:func:`output_size` is the encoded size for a stored size. PyAV only.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.error

from vbgsite.errors import InvalidVideo, VideoTooLarge

# Demuxers we accept (FFmpeg's names): MP4/MOV and Matroska/WebM.
CONTAINERS: dict[str, str] = {"mov,mp4,m4a,3gp,3g2,mj2": "MP4/MOV", "matroska,webm": "WebM/MKV"}
# Video codecs we accept: what phones, cameras, browsers and screen recorders produce.
VIDEO_CODECS: frozenset[str] = frozenset(
    {"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "prores", "mjpeg"}
)


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


def open_input(path: str | Path) -> av.container.InputContainer:
    """The file opened for reading; InvalidVideo when FFmpeg cannot read it."""
    try:
        return av.open(str(path), mode="r", timeout=30)
    except av.error.FileNotFoundError:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidVideo(
            "This file is not a video we can read: it may be corrupt, truncated or not a "
            "video at all."
        ) from exc


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    """The first real video stream (not cover art); InvalidVideo when there is none."""
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
    with open_input(path) as container:
        stream = video_stream(container)
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


def probe_video(path: str | Path, *, max_pixels: int | None = None) -> VideoInfo:
    """Check that ``path`` is a video we can process and describe it (quick: one frame).

    Raises InvalidVideo with a reason a person can act on: not a video / corrupt, a
    container other than MP4/MOV/WebM/MKV, no video stream, an unsupported codec; and
    VideoTooLarge when a frame has more than ``max_pixels`` pixels (checked from the
    stream's header before any frame is decoded, and again on the first frame).
    """
    with open_input(path) as container:
        container_name = CONTAINERS.get(container.format.name)
        if container_name is None:
            raise InvalidVideo(
                f"Videos must be MP4, MOV, WebM or MKV (this one is {container.format.name})."
            )
        stream = video_stream(container)
        codec = _check_codec(stream)
        stream.thread_type = "AUTO"
        if stream.codec_context is not None:
            _check_pixels(stream.codec_context.width, stream.codec_context.height, max_pixels)
        first = _first_frame(container, stream)
        _check_pixels(first.width, first.height, max_pixels)
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


def _check_pixels(width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise VideoTooLarge(
            f"This video's frames are {width} x {height} pixels ({width * height / 1e6:.1f} MP);"
            f" videos can have at most {max_pixels / 1e6:.1f} MP per frame (4K is 8.3 MP)."
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


def _display_matrix(frame: av.VideoFrame) -> tuple[int, ...] | None:
    for side_data in frame.side_data.values():
        if side_data.type == av.sidedata.sidedata.Type.DISPLAYMATRIX:
            raw = bytes(side_data)
            if len(raw) == 36:
                return struct.unpack("<9i", raw)
    return None
