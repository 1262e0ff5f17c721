"""Video backgrounds: a streaming pipeline, decode → segment → smooth → compose → encode.

No Django, no storage, no torch here: PyAV (FFmpeg), numpy, Pillow and OpenCV (accepted
as a pure dependency: connected components, optical flow). The person mask comes
from a :class:`compositing.segmentation.FrameSegmenter` (the segmentation engine's network at
its own resolution; the Django side gets one from ``compositing.engine.get_frame_segmenter``),
everything else happens in this package, one module per stage:

- :mod:`.probe` — what a file is (:func:`probe_video`, :class:`VideoInfo`, :func:`output_size`);
- :mod:`.frames` — decoding to planes and the network's small upright frames;
- :mod:`.masks` — the mask path of a frame (:class:`FrameMasker`) and of a file
  (:func:`video_masks`): network, temporal step, second pass, refinement;
- :mod:`.crop` — the second pass's crop box around the person, tracked across frames;
- :mod:`.temporal` — smoothing the probability over time (:class:`TemporalSmoother`);
- :mod:`.motion` — the crop's probability carried along the box's (optionally the
  picture's, DIS optical flow) motion and confidence-gated over time;
- :mod:`.refine` — the full-resolution mask from the probability (:func:`guided_refine`);
- :mod:`.evaluate` — J, F and flicker of the mask path on sequences with ground truth;
- :mod:`.planes` — the background as Y'CbCr planes and the blend;
- :mod:`.encode` — H.264/MP4 output and audio; :mod:`.pipes` — the threads' hand-over;
- :mod:`.pipeline` — :func:`composite_video`, which runs them all.

How a frame flows (three threads, bounded queues, so memory stays flat on any length):

1. **decode thread** — demuxes the source, decodes video frames, converts them to 8-bit
   ``yuv420p`` at the output size (only when the source is not already that) and makes the
   small upright RGB copy the network wants (swscale, about 1 ms). Audio packets are passed
   along untouched, in order.
2. **main thread** — runs the network on a batch of small frames, smooths the probability
   over time (:class:`TemporalSmoother`, at network resolution); unless the person fills
   most of the frame, runs the network again on a crop around them (the photo engine's
   second pass; the box tracked so it never jumps), carries the crop's previous probability
   into the new box and blends it in where the two agree; refines to full resolution with
   a fast guided filter whose guide is the frame's (or crop's) own luma plane, and
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

from .masks import FrameMasker, MaskOptions, video_masks
from .pipeline import VideoCancelled, VideoResult, composite_video
from .probe import VideoInfo, output_size, probe_video
from .refine import guided_refine
from .temporal import TemporalSmoother, alpha_flicker

__all__ = [
    "FrameMasker",
    "MaskOptions",
    "TemporalSmoother",
    "VideoCancelled",
    "VideoInfo",
    "VideoResult",
    "alpha_flicker",
    "composite_video",
    "guided_refine",
    "output_size",
    "probe_video",
    "video_masks",
]
