"""Encoding: composited planes -> a video file, every source timestamp kept, the display
matrix and colour tags set, audio packets copied when the container carries the codec
(re-encoded otherwise). Encode thread.

Containers (``OUTPUT_FORMATS``):

- ``mp4``: libx264 ``yuv420p`` (CRF, preset), ``+faststart``; audio copied or AAC;
- ``webm``: VP9 with an alpha channel (libvpx-vp9 ``yuva420p``, constant quality; plays
  with transparency in Chromium and Firefox); audio copied when Opus or Vorbis, else Opus;
- ``mov``: ProRes 4444 with alpha (prores_ks, ``yuva444p10le``), for video editors; audio
  copied or AAC.

The transparent formats take four planes per frame (Y, Cb, Cr and the alpha, full size).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from vbgsite.errors import InvalidOption

from .pipes import END, Packet, Pipe

logger = logging.getLogger(__name__)

# Audio codecs an MP4 carries and browsers play; anything else is re-encoded to AAC.
MP4_AUDIO_COPY: frozenset[str] = frozenset({"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"})


@dataclass(frozen=True)
class OutputFormat:
    container: str  # FFmpeg muxer
    codec: str
    pix_fmt: str
    alpha: bool
    audio_copy: frozenset[str]  # audio codecs copied as they are
    audio_codec: str  # what other audio is re-encoded to
    container_options: tuple[tuple[str, str], ...] = ()


OUTPUT_FORMATS: dict[str, OutputFormat] = {
    "mp4": OutputFormat(
        "mp4", "libx264", "yuv420p", False, MP4_AUDIO_COPY, "aac", (("movflags", "+faststart"),)
    ),
    "webm": OutputFormat(
        "webm", "libvpx-vp9", "yuva420p", True, frozenset({"opus", "vorbis"}), "libopus"
    ),
    "mov": OutputFormat("mov", "prores_ks", "yuva444p10le", True, MP4_AUDIO_COPY, "aac"),
}


class Encoder:
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
        output_format: str = "mp4",
    ) -> None:
        width, height = size
        self.format = OUTPUT_FORMATS[output_format]
        self.container = av.open(
            str(path),
            mode="w",
            format=self.format.container,
            options=dict(self.format.container_options),
        )
        stream = self.container.add_stream(self.format.codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, self.format.pix_fmt
        stream.time_base = source_video.time_base
        stream.codec_context.time_base = source_video.time_base
        stream.codec_context.framerate = fps
        stream.codec_context.thread_count = threads
        stream.codec_context.options = _codec_options(output_format, preset=preset, crf=crf)
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
            if name in self.format.audio_copy:
                self.audio = self.container.add_stream_from_template(source_audio)
                self.audio_mode = "copied"
            else:
                rate = source_audio.codec_context.sample_rate or 48000
                if self.format.audio_codec == "libopus":
                    rate = 48000  # Opus runs at 48 kHz
                self.audio = self.container.add_stream(self.format.audio_codec, rate=rate)
                self.audio_mode = "aac" if self.format.audio_codec == "aac" else "opus"
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
        frame = _alpha_frame(planes) if self.format.alpha else _opaque_frame(planes)
        if self.format.pix_fmt != frame.format.name:
            frame = frame.reformat(format=self.format.pix_fmt)
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
        if self.audio_mode in ("aac", "opus"):
            for resampled in self._resampler.resample(None):
                self._mux(self.audio.encode(resampled))
            self._mux(self.audio.encode(None))
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:
            logger.debug("closing an aborted output failed", exc_info=True)


def check_output(*, mode: str, output_format: str) -> None:
    """InvalidOption unless ``output_format`` is known and can hold ``mode`` (transparency
    needs WebM or MOV; those two hold nothing but transparent videos)."""
    spec = OUTPUT_FORMATS.get(output_format)
    if spec is None:
        raise InvalidOption(f"Videos are written as MP4, WebM or MOV, not {output_format!r}.")
    if (mode == "transparent") != spec.alpha:
        raise InvalidOption(
            "MP4 (H.264) has no transparency: transparent videos are written as WebM (VP9"
            " with alpha) or MOV (ProRes 4444), and those two only hold transparent videos."
        )


def _codec_options(output_format: str, *, preset: str, crf: int) -> dict[str, str]:
    if output_format == "webm":
        # Constant quality; alt-ref frames off (libvpx cannot use them with alpha); speed 8
        # with row threads: about real time at 720p on one core.
        quality = str(min(63, max(0, crf + 12)))
        return {
            "crf": quality,
            "b": "0",
            "deadline": "realtime",
            "cpu-used": "8",
            "row-mt": "1",
            "auto-alt-ref": "0",
        }
    if output_format == "mov":
        return {"profile": "4444", "vendor": "apl0", "alpha_bits": "16"}
    return {"preset": preset, "crf": str(crf), "profile": "high"}


def _opaque_frame(planes: tuple[np.ndarray, ...]) -> av.VideoFrame:
    y, cb, cr = planes[:3]
    height, width = y.shape
    packed = np.empty((height * 3 // 2, width), np.uint8)
    packed[:height] = y
    packed[height:].reshape(2, height // 2, width // 2)[:] = (cb, cr)
    return av.VideoFrame.from_ndarray(packed, format="yuv420p")


def _alpha_frame(planes: tuple[np.ndarray, ...]) -> av.VideoFrame:
    """Y, Cb, Cr (4:2:0) and alpha (full size), uint8, as a ``yuva420p`` frame."""
    height, width = planes[0].shape
    frame = av.VideoFrame(width, height, "yuva420p")
    for plane, data in zip(frame.planes, planes, strict=True):
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        rows[: data.shape[0], : data.shape[1]] = data
    return frame


def encode_loop(encoder: Encoder, source: Pipe, failures: list[BaseException]) -> None:
    """Encode thread: until END; an error is recorded for the main thread."""
    try:
        while True:
            item = source.get()
            if item is END:
                return
            if isinstance(item, Packet):
                encoder.audio_packet(item.packet)
            else:
                planes, pts, duration = item
                encoder.video_frame(planes, pts, duration)
    except BaseException as exc:
        failures.append(exc)
