"""Encoding: composited planes -> libx264 ``yuv420p`` (CRF, preset) in an MP4 with
``+faststart``, every source timestamp kept, the display matrix and colour tags set, audio
packets copied (re-encoded to AAC only when MP4 cannot carry the codec). Encode thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from .pipes import END, Packet, Pipe

logger = logging.getLogger(__name__)

# Audio codecs an MP4 carries and browsers play; anything else is re-encoded to AAC.
MP4_AUDIO_COPY: frozenset[str] = frozenset({"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"})


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
