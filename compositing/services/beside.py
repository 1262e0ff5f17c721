"""What a photo composite makes on the side thread for its compose while the model runs
(``compositing.services.photos``): the background's canvas covered to the photo's size
and, for a photo decoded into an array, the canvas's array and the photo's colour
statistics. It raises nothing of its own: the covering's errors come with the canvas.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from compositing.compose_arrays import ARRAYS_MAX_PIXELS
from compositing.compose_stats import LowColour, stats_factor
from compositing.engine import Later, compute_beside
from compositing.placement import CanvasSource, Placement, canvas_rows, covered_canvas
from compositing.services.background_choice import ResolvedBackground
from compositing.services.cut_out import CANVAS_BESIDE_MAX_PIXELS
from compositing.services.stage_timings import Timings, timed_call
from compositing.services.uploads import DecodedPhoto


class CanvasBeside:
    """The background of mode "image" covered to the photo's size on the side thread while
    the model runs (the canvas does not depend on the cut-out; a 12 MP cover takes about
    as long as the model), then handed to ``render`` as its ``CanvasSource``."""

    def __init__(
        self,
        source: Image.Image | CanvasSource,
        size: tuple[int, int],
        placement: Placement,
        timings: Timings,
    ) -> None:
        self.source, self.size, self.placement = source, size, placement
        self.timings = timings
        self.ready = compute_beside(
            timed_call, timings, "compose_ms", covered_canvas, source, size, placement
        )
        self.array: Later[np.ndarray] | None = None

    @classmethod
    def start(
        cls,
        background: ResolvedBackground,
        size: tuple[int, int],
        placement: Placement,
        timings: Timings,
    ) -> CanvasBeside | None:
        """Start covering when the canvas is the photo's size (the subject is not moved) and
        the photo is not huge: above ``CANVAS_BESIDE_MAX_PIXELS`` the canvas would be
        allocated while the model holds its own copy of the photo (at 48 MP two 144 MB
        images at once), so it is made after the model, in ``render``."""
        source = background.source()
        if source is None or placement.moves_subject or placement.channels == "alpha":
            return None
        if size[0] * size[1] > CANVAS_BESIDE_MAX_PIXELS:
            return None
        return cls(source, size, placement, timings)

    def canvas(self, size: tuple[int, int], placement: Placement) -> tuple[Image.Image, bool]:
        if (tuple(size), placement) == (tuple(self.size), self.placement):
            return self.ready.result()
        return covered_canvas(self.source, size, placement)

    def rows(self, size: tuple[int, int], placement: Placement) -> Callable[..., Image.Image]:
        return canvas_rows(self.source, size, placement)

    def pixels_beside(self) -> None:
        """Have the side thread copy the canvas into an array when it is idle (a photo up to
        ``ARRAYS_MAX_PIXELS``: ``compose_image`` reads it instead of copying it then)."""
        if self.size[0] * self.size[1] <= ARRAYS_MAX_PIXELS:
            self.array = Later(self._pixels)

    def _pixels(self) -> np.ndarray:
        canvas = self.ready.result()[0]  # made (and cached) first
        if isinstance(self.source, Image.Image):
            return timed_call(self.timings, "compose_ms", np.asarray, canvas)
        return timed_call(self.timings, "compose_ms", self.source.pixels, self.size, self.placement)

    def pixels(self, size: tuple[int, int], placement: Placement) -> np.ndarray:
        prepared = self.prepared_pixels(size, placement)
        return np.asarray(self.canvas(size, placement)[0]) if prepared is None else prepared

    def prepared_pixels(self, size: tuple[int, int], placement: Placement) -> np.ndarray | None:
        """``pixels(size, placement)`` if ``pixels_beside`` started them, else None."""
        if self.array is None or (tuple(size), placement) != (tuple(self.size), self.placement):
            return None
        return self.array.result()


class ComposeBeside:
    """What the compose reads, made on the side thread while the model runs: the
    background's canvas (``CanvasBeside``) and, for a photo decoded into an array (up to
    ``ARRAYS_MAX_PIXELS``), when the side thread is idle (``engine.Later``), the canvas's
    array and the photo's low-resolution colour statistics (``compose_stats.LowColour``:
    2 ms at 1 MP that the compose would otherwise spend after the model)."""

    def __init__(
        self,
        decoded: DecodedPhoto,
        background: ResolvedBackground,
        placement: Placement,
        timings: Timings,
    ) -> None:
        self.decoded, self.background, self.placement = decoded, background, placement
        self.timings = timings
        self.canvas: CanvasBeside | None = None
        self.low_colour: Later[LowColour] | None = None

    def start(self) -> None:
        """``photo_cut_out``'s ``idle``: queued after the cut-out's own side stages. The
        canvas first: on a background's first use at this size (read, decode, cover: 8 ms
        at 1 MP alone, 20-30 ms in a web worker beside the model) it was queued ahead of
        the person detectors, and the cut-out waited for them behind it."""
        size = self.decoded.size
        self.canvas = CanvasBeside.start(self.background, size, self.placement, self.timings)
        if self.decoded.pixels is None or size[0] * size[1] > ARRAYS_MAX_PIXELS:
            return
        if self.canvas is not None:
            self.canvas.pixels_beside()
        self.low_colour = Later(timed_call, self.timings, "compose_ms", self._made)

    def _made(self) -> LowColour:
        decoded = self.decoded
        return LowColour(decoded.picture, stats_factor(decoded.size)).for_decontamination()

    def colour(self) -> LowColour | None:
        return None if self.low_colour is None else self.low_colour.result()
