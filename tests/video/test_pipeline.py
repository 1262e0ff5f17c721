"""The video pipeline itself (``compositing.video``), with the real model, no database.

Rotation metadata, WebM/VP9 with Opus audio, background modes, downscaling, cancel, the
flicker measure before and after temporal smoothing, and the streaming guarantees.
"""

from __future__ import annotations

import numpy as np
import pytest

from compositing.video import (
    TemporalSmoother,
    VideoCancelled,
    alpha_flicker,
    composite_video,
    guided_refine,
    output_size,
    probe_video,
)
from tests.video.clips import (
    audio_only,
    audio_packets,
    decode_rgb,
    make_clip,
    new_background,
    stream_facts,
)
from vbgsite.errors import InvalidOption, InvalidVideo

pytestmark = pytest.mark.slow


def upper_person(clip, index: int, person) -> np.ndarray:
    x, y = clip.positions[index]
    mask = np.zeros((clip.height, clip.width), bool)
    mask[y : y + clip.patch_size, x : x + clip.patch_size] = person(clip.patch_size)
    return mask


def far_background(clip, index: int, margin: int = 12) -> np.ndarray:
    x, y = clip.positions[index]
    mask = np.ones((clip.height, clip.width), bool)
    size = clip.patch_size
    mask[max(0, y - margin) : y + size + margin, max(0, x - margin) : x + size + margin] = False
    return mask


def test_rotation_metadata_is_kept_and_the_network_sees_the_upright_person(
    engine, tmp_path, reference_person
):
    # A phone video: stored sideways, displayed upright through the display matrix.
    clip = make_clip(tmp_path / "phone.mp4", frames=20, rotation=90)
    result = composite_video(
        clip.path, tmp_path / "out.mp4", segmenter=engine, mode="color", color=(0, 0, 255)
    )
    assert result.rotation == 90
    facts = stream_facts(tmp_path / "out.mp4")
    assert facts["rotation"] == 90
    out = decode_rgb(tmp_path / "out.mp4")  # upright, as a player shows it
    source = decode_rgb(clip.path)
    assert out[0].shape == (clip.height, clip.width, 3)
    for index in (0, 10):  # (at the last frame she touches the edge, where the model hesitates)
        person = upper_person(clip, index, reference_person)
        difference = np.abs(out[index].astype(np.int16) - source[index]).mean(axis=-1)
        assert difference[person].mean() < 5
        background = far_background(clip, index)
        blue = out[index][background].astype(np.int16)
        assert np.abs(blue - np.array([0, 0, 255])).mean() < 12


def test_webm_vp9_with_opus_becomes_h264_mp4_with_the_opus_packets_copied(engine, tmp_path):
    clip = make_clip(
        tmp_path / "clip.webm", frames=12, container="webm", codec="libvpx-vp9", audio=False
    )
    # Add an Opus track by remuxing with one (PyAV's native Opus encoder).
    import av

    with_audio = tmp_path / "with-opus.webm"
    with av.open(str(clip.path)) as source, av.open(str(with_audio), "w", format="webm") as out:
        video = out.add_stream_from_template(source.streams.video[0])
        opus = out.add_stream("libopus", rate=48000)
        opus.layout = "mono"
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is None:
                continue
            packet.stream = video
            out.mux(packet)
        tone = (0.2 * np.sin(np.arange(48000 // 2, dtype=np.float32) / 5.0)).astype(np.float32)
        for start in range(0, tone.size, 960):
            frame = av.AudioFrame.from_ndarray(
                tone[None, start : start + 960], format="fltp", layout="mono"
            )
            frame.sample_rate = 48000
            frame.pts = start
            for packet in opus.encode(frame):
                out.mux(packet)
        for packet in opus.encode():
            out.mux(packet)

    info = probe_video(with_audio)
    assert (info.container, info.video_codec, info.audio_codec) == ("WebM/MKV", "vp9", "opus")
    result = composite_video(with_audio, tmp_path / "out.mp4", segmenter=engine, mode="blur")
    assert result.audio == "copied"
    facts = stream_facts(tmp_path / "out.mp4")
    assert (facts["codec"], facts["audio_codec"]) == ("h264", "opus")
    assert audio_packets(tmp_path / "out.mp4") == audio_packets(with_audio)
    assert len(decode_rgb(tmp_path / "out.mp4")) == clip.frames


def test_background_modes_color_and_blur(engine, tmp_path, reference_person):
    clip = make_clip(tmp_path / "clip.mp4", frames=8, audio=False)
    source = decode_rgb(clip.path)
    composite_video(
        clip.path, tmp_path / "green.mp4", segmenter=engine, mode="color", color=(0, 255, 0)
    )
    composite_video(clip.path, tmp_path / "blur.mp4", segmenter=engine, mode="blur")
    green, blurred = decode_rgb(tmp_path / "green.mp4"), decode_rgb(tmp_path / "blur.mp4")
    background, person = far_background(clip, 4), upper_person(clip, 4, reference_person)
    assert np.abs(green[4][background].astype(np.int16) - (0, 255, 0)).mean() < 12
    # Blur: the wall is still there (same mean colour) but its texture is gone.
    wall = source[4][background].astype(np.float32)
    soft = blurred[4][background].astype(np.float32)
    assert np.abs(wall.mean(axis=0) - soft.mean(axis=0)).max() < 12
    texture = np.abs(np.diff(source[4].astype(np.float32), axis=1)).mean(axis=-1)
    texture_blurred = np.abs(np.diff(blurred[4].astype(np.float32), axis=1)).mean(axis=-1)
    assert texture_blurred[background[:, 1:]].mean() < 0.5 * texture[background[:, 1:]].mean()
    for out in (green, blurred):
        difference = np.abs(out[4].astype(np.int16) - source[4]).mean(axis=-1)
        assert difference[person].mean() < 5


def test_transparent_and_missing_backgrounds_are_refused(engine, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=2, audio=False)
    with pytest.raises(InvalidOption, match="transparency"):
        composite_video(clip.path, tmp_path / "o.mp4", segmenter=engine, mode="transparent")
    with pytest.raises(InvalidOption):
        composite_video(clip.path, tmp_path / "o.mp4", segmenter=engine, mode="image")


def test_large_frames_are_scaled_down_to_the_limit(engine, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", width=480, height=272, frames=3, audio=False)
    result = composite_video(
        clip.path,
        tmp_path / "out.mp4",
        segmenter=engine,
        mode="image",
        background=new_background(),
        max_side=240,
    )
    assert (result.width, result.height) == output_size(480, 272, 240) == (240, 136)
    assert decode_rgb(tmp_path / "out.mp4")[0].shape == (136, 240, 3)


def test_cancel_check_stops_the_pipeline_and_progress_rises(engine, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=40, audio=False)
    reports: list[tuple[int, int, float | None]] = []

    def progress(done: int, total: int, eta: float | None) -> None:
        reports.append((done, total, eta))

    with pytest.raises(VideoCancelled):
        composite_video(
            clip.path,
            tmp_path / "out.mp4",
            segmenter=engine,
            mode="blur",
            progress=progress,
            should_cancel=lambda: len(reports) >= 5,
        )
    assert [done for done, _, _ in reports] == [1, 2, 3, 4, 5]
    assert all(total == clip.frames for _, total, _ in reports)
    assert all(eta is not None and eta >= 0 for _, _, eta in reports)


def test_temporal_smoothing_reduces_flicker_on_a_still_subject(engine, tmp_path):
    # A webcam: the person holds still, the sensor adds noise to every frame.
    clip = make_clip(tmp_path / "still.mp4", frames=40, moving=False, noise=6.0, audio=False)
    raw: list[np.ndarray] = []
    smoothed: list[np.ndarray] = []
    composite_video(
        clip.path,
        tmp_path / "a.mp4",
        segmenter=engine,
        mode="blur",
        smoothing=False,
        on_alpha=lambda a: raw.append(a.copy()),
    )
    composite_video(
        clip.path,
        tmp_path / "b.mp4",
        segmenter=engine,
        mode="blur",
        on_alpha=lambda a: smoothed.append(a.copy()),
    )
    before, after = alpha_flicker(raw), alpha_flicker(smoothed)
    assert before > 0
    assert after < 0.6 * before, (before, after)


def test_smoothing_follows_real_motion_without_lag():
    smoother = TemporalSmoother()
    still = np.zeros((16, 16), np.float32)
    still[4:12, 2:6] = 1.0
    moved = np.zeros((16, 16), np.float32)
    moved[4:12, 8:12] = 1.0
    smoother(still)
    out = smoother(moved)
    # Where the person went and where they left, the new frame wins at once.
    assert out[4:12, 8:12].min() > 0.95 and out[4:12, 2:6].max() < 0.05


def test_guided_refine_snaps_the_mask_to_the_frame_edges():
    # A bright square on a dark frame; the network's probability (a quarter of the size)
    # says "square" but with blurry edges, as a low-resolution network does.
    from PIL import Image, ImageFilter

    luma = np.full((180, 320), 40, np.uint8)
    luma[60:120, 100:200] = 200
    square = Image.fromarray(np.where(luma > 100, 255, 0).astype(np.uint8)).resize((80, 45))
    blurry = np.asarray(square.filter(ImageFilter.GaussianBlur(1)), np.float32) / 255.0
    alpha = guided_refine(luma, blurry)
    stretched = np.asarray(Image.fromarray(blurry, "F").resize((320, 180), Image.BILINEAR))
    assert alpha.shape == luma.shape
    assert alpha[66:114, 106:194].mean() > 0.9 and alpha[:, :80].max() < 0.05

    # Across the square's right edge (x = 200) the refined mask drops in one pixel, at the
    # edge; the plain bilinear stretch of the same probability ramps over a dozen.
    refined_row, stretched_row = alpha[90, 180:220], stretched[90, 180:220]
    assert np.abs(np.diff(refined_row)).max() > 0.4
    assert np.abs(np.diff(refined_row)).argmax() + 181 == 200
    assert np.abs(np.diff(stretched_row)).max() < 0.15


def test_not_a_video_no_video_stream_and_unsupported_codec_are_refused(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    with pytest.raises(InvalidVideo, match="not a video"):
        probe_video(garbage)
    with pytest.raises(InvalidVideo, match="no video stream"):
        probe_video(audio_only(tmp_path / "sound.mp4"))
    ffv1 = make_clip(tmp_path / "lossless.mkv", frames=3, container="matroska", codec="ffv1")
    with pytest.raises(InvalidVideo, match="codec 'ffv1' is not supported"):
        probe_video(ffv1.path)


def test_memory_stays_flat_over_a_long_clip(engine, tmp_path):
    # Queues are bounded: the pipeline holds a few frames, never the clip. After a warm-up
    # (allocator arenas, Pillow's block cache, the encoder's buffers), a clip 4x longer than
    # another must not raise the peak resident memory by more than a few frames.
    import resource

    short = make_clip(tmp_path / "short.mp4", frames=120, audio=False, moving=False)
    long = make_clip(tmp_path / "long.mp4", frames=480, audio=False, moving=False)
    for _ in range(2):
        composite_video(short.path, tmp_path / "s.mp4", segmenter=engine, mode="blur")
    peak_after_short = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    composite_video(long.path, tmp_path / "l.mp4", segmenter=engine, mode="blur")
    peak_after_long = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    frame_kib = short.width * short.height * 3 // 1024
    # 360 more frames held would add over 130 MB; allow 20 frames' worth (7.5 MB).
    assert peak_after_long - peak_after_short < 20 * frame_kib


def test_the_pipeline_imports_neither_django_nor_torch():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, compositing.video; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
