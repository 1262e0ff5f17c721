"""Test inputs built here, from scikit-image's real photos: nothing outside the repository.

``make_clip`` writes a short video of a real portrait (``skimage.data.astronaut()``, Eileen
Collins) moving across a scene (``skimage.data.brick()``: a wall, no person in it),
with an AAC sine tone, and returns where the person is in every frame, so tests can check
pixels of the result against the source.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image
from skimage import data as skdata


@dataclass(frozen=True)
class Clip:
    path: Path
    width: int  # as stored
    height: int
    fps: int
    frames: int
    patch_size: int  # the portrait's side in pixels
    positions: list[tuple[int, int]]  # (x, y) of the portrait's top-left corner, per frame
    rotation: int  # display rotation (degrees counter-clockwise), 0 for none
    audio: bool

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def portrait(size: int) -> np.ndarray:
    """The astronaut photo (a person with her own background), uint8 size x size x 3."""
    return np.asarray(Image.fromarray(skdata.astronaut()).resize((size, size), Image.LANCZOS))


def scene(width: int, height: int) -> np.ndarray:
    """The "room" behind the person: ``skimage.data.brick()`` (a photo of a brick wall,
    warm-tinted), covering width x height. A scene with nothing person-like in it: the
    coffee photo, tried first, has a cup the model half-takes for a person."""
    wall = np.asarray(skdata.brick(), np.float32)[..., None] / 255.0
    image = Image.fromarray((wall * np.array([215, 170, 140], np.float32)).astype(np.uint8))
    scale = max(width / image.width, height / image.height)
    resized = image.resize((round(image.width * scale) + 1, round(image.height * scale) + 1))
    left = (resized.width - width) // 2
    top = (resized.height - height) // 2
    return np.asarray(resized.crop((left, top, left + width, top + height)))


def new_background() -> np.ndarray:
    """The background the tests put behind the person: a cool blue-green gradient with
    texture (clearly different from the coffee scene), 800 x 600."""
    y, x = np.mgrid[0:600, 0:800].astype(np.float32)
    r = 30 + 40 * (x / 800)
    g = 120 + 80 * (y / 600)
    b = 160 + 60 * np.sin(x / 37.0) * np.cos(y / 53.0)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def make_clip(
    path: Path,
    *,
    width: int = 480,
    height: int = 272,
    fps: int = 25,
    frames: int = 50,
    patch_size: int = 240,
    moving: bool = True,
    noise: float = 0.0,
    rotation: int = 0,
    audio: bool = True,
    container: str = "mp4",
    codec: str = "libx264",
    seed: int = 0,
) -> Clip:
    """Write the clip (upright size width x height; stored rotated when ``rotation``).

    moving: the portrait slides from left to right; otherwise it stays in the middle.
    noise: standard deviation of per-frame Gaussian noise (a webcam's sensor noise), in
    levels. audio: a 440 Hz AAC tone as long as the video.
    """
    rng = np.random.default_rng(seed)
    person = portrait(patch_size)
    room = scene(width, height)
    y = (height - patch_size) // 2 + 16
    positions: list[tuple[int, int]] = []
    output = av.open(str(path), "w", format=container)
    stored_w, stored_h = (height, width) if rotation % 180 else (width, height)
    video = output.add_stream(codec, rate=fps)
    video.width, video.height = stored_w, stored_h
    video.pix_fmt = "yuv420p"
    if codec == "libx264":
        video.codec_context.options = {"preset": "ultrafast", "crf": "16"}
    if rotation:
        video.set_display_rotation(rotation)
    sound = None
    if audio:
        sound = output.add_stream("aac", rate=44100)
        sound.layout = "mono"
    for index in range(frames):
        x = (
            round(8 + (width - patch_size - 16) * index / max(1, frames - 1))
            if moving
            else (width - patch_size) // 2
        )
        positions.append((x, y))
        frame = room.copy()
        frame[y : y + patch_size, x : x + patch_size] = person
        if noise:
            frame = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
        if rotation:
            # Stored turned clockwise; the display matrix turns it back.
            frame = np.ascontiguousarray(np.rot90(frame, k=-(rotation // 90)))
        picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
        picture.pts = index
        picture.time_base = Fraction(1, fps)
        for packet in video.encode(picture):
            output.mux(packet)
    for packet in video.encode():
        output.mux(packet)
    if sound is not None:
        rate = 44100
        samples = round(frames / fps * rate)
        t = np.arange(samples, dtype=np.float32) / rate
        tone = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
        step = 1024
        for start in range(0, samples, step):
            chunk = tone[start : start + step]
            block = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            block.sample_rate = rate
            block.pts = start
            block.time_base = Fraction(1, rate)
            for packet in sound.encode(block):
                output.mux(packet)
        for packet in sound.encode():
            output.mux(packet)
    output.close()
    return Clip(
        path=path,
        width=width,
        height=height,
        fps=fps,
        frames=frames,
        patch_size=patch_size,
        positions=positions,
        rotation=rotation,
        audio=audio,
    )


def audio_only(path: Path) -> Path:
    """An .mp4 with an AAC track and no video stream."""
    output = av.open(str(path), "w", format="mp4")
    sound = output.add_stream("aac", rate=44100)
    sound.layout = "mono"
    tone = (0.3 * np.sin(np.arange(44100, dtype=np.float32) / 7.0)).astype(np.float32)
    for start in range(0, tone.size, 1024):
        chunk = tone[None, start : start + 1024]
        block = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        block.sample_rate = 44100
        block.pts = start
        for packet in sound.encode(block):
            output.mux(packet)
    for packet in sound.encode():
        output.mux(packet)
    output.close()
    return path


def not_a_video() -> bytes:
    """Random bytes with an MP4-ish name: a corrupt upload."""
    return np.random.default_rng(1).integers(0, 256, 64 * 1024, dtype=np.uint8).tobytes()


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.fromarray(skdata.astronaut()).save(out, "JPEG")
    return out.getvalue()


# ------------------------------------------------------------------------------ reading


def decode_rgb(path: Path) -> list[np.ndarray]:
    """Every frame of a (small) video as upright uint8 RGB (display rotation applied)."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            if frame.rotation:
                rgb = np.rot90(rgb, k=round(frame.rotation / 90) % 4)
            frames.append(np.ascontiguousarray(rgb))
    return frames


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return []
        stream = container.streams.audio[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def stream_facts(path: Path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        first = next(container.decode(video))
        audio = container.streams.audio[0] if container.streams.audio else None
        return {
            "format": container.format.name,
            "codec": video.codec_context.name,
            "pix_fmt": video.codec_context.pix_fmt,
            "fps": video.average_rate,
            "duration": float(video.duration * video.time_base) if video.duration else None,
            "rotation": first.rotation,
            "audio_codec": audio.codec_context.name if audio is not None else None,
            "audio_duration": (
                float(audio.duration * audio.time_base)
                if audio is not None and audio.duration
                else None
            ),
        }
