"""Decoding: source frames -> Y'CbCr planes at the output size + the network's small
upright RGB frame (swscale), in the decode thread. Audio packets pass through untouched.

The decode thread converts frames to 8-bit ``yuv420p`` at the output size only when the
source is not already that, and makes the small upright copy the network wants (about
1 ms). Rotation: planes stay in stored orientation (the output keeps the display matrix);
only the network's copy is turned upright.
"""

from __future__ import annotations

from typing import Any

import av
import av.error
import numpy as np

from vbgsite.errors import InvalidVideo

from .pipes import END, Decoded, Failure, Packet, Pipe


def colour_matrix(stream: av.video.stream.VideoStream, height: int) -> str:
    """The output's colour matrix: the source's when tagged BT.709/BT.601, else by height."""
    space = stream.codec_context.colorspace
    # AVCOL_SPC_BT709 = 1; BT470BG = 5 and SMPTE170M = 6 are BT.601.
    if space == 1:
        return "bt709"
    if space in (5, 6):
        return "bt601"
    return "bt709" if height >= 720 else "bt601"


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


def decode_loop(
    container: av.container.InputContainer,
    video: av.video.stream.VideoStream,
    audio: Any,
    out: Pipe,
    *,
    size: tuple[int, int],
    rotation: int,
    net_size: tuple[int, int],
    matrix: str,
) -> None:
    """Decode thread: frames (as Decoded) and audio packets (as Packet), then END."""
    width, height = size
    streams = [video] + ([audio] if audio is not None else [])
    try:
        for packet in container.demux(streams):
            if packet.stream is video:
                for frame in packet.decode():
                    item = Decoded(
                        planes=_planes(frame, width, height),
                        small=_small_upright(frame, rotation, net_size, matrix),
                        pts=frame.pts,
                        duration=frame.duration or None,
                    )
                    if not out.put(item):
                        return
            elif packet.dts is not None and packet.size and not out.put(Packet(packet)):
                return
        out.put(END)
    except av.error.FFmpegError as exc:
        out.put(Failure(InvalidVideo(f"This video is corrupt or truncated ({exc.strerror}).")))
    except BaseException as exc:
        out.put(Failure(exc))
