"""The built-in backgrounds, generated in code (numpy + Pillow) at 1920x1080.

No image files ship with the project: each background is a deterministic function of a
fixed random seed, rendered in float32 linear-ish RGB (HxWx3 in 0..1) and dithered to
8 bits at the end so smooth gradients do not band. ``BUILTINS`` lists them in the order the
library shows them; ``render(slug)`` returns a PIL RGB image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 1920, 1080

Color = tuple[int, int, int]
Canvas = np.ndarray  # float32 HxWx3 in 0..1


@dataclass(frozen=True)
class BuiltinBackground:
    slug: str
    name: str
    draw: Callable[[np.random.Generator], Canvas]
    seed: int


# ---------------------------------------------------------------- helpers


def _rgb(color: Color | str) -> np.ndarray:
    if isinstance(color, str):
        value = color.lstrip("#")
        color = (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))
    return np.array(color, dtype=np.float32) / 255.0


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """(y, x) coordinates in 0..1 (x spans the width; y the height), float32 HxW."""
    y = np.linspace(0.0, 1.0, HEIGHT, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, WIDTH, dtype=np.float32)[None, :]
    return np.broadcast_to(y, (HEIGHT, WIDTH)), np.broadcast_to(x, (HEIGHT, WIDTH))


def _gradient(t: np.ndarray, stops: Sequence[tuple[float, Color | str]]) -> Canvas:
    """Colour ramp: t (any shape, 0..1) through (position, colour) stops -> t.shape + (3,)."""
    positions = [p for p, _ in stops]
    colours = np.stack([_rgb(c) for _, c in stops])
    out = np.empty((*t.shape, 3), dtype=np.float32)
    for channel in range(3):
        out[..., channel] = np.interp(t, positions, colours[:, channel])
    return out


def _smooth_noise(rng: np.random.Generator, cells: tuple[int, int]) -> np.ndarray:
    """Low-frequency noise: random values on a coarse grid, bicubic-upscaled, about 0..1."""
    coarse = rng.random(cells, dtype=np.float32)
    image = Image.fromarray(coarse, "F").resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    return np.asarray(image, dtype=np.float32)


def _box_blur(a: np.ndarray, radius: int, axis: int) -> np.ndarray:
    if radius < 1:
        return a
    pad = [(0, 0)] * a.ndim
    pad[axis] = (radius + 1, radius)
    padded = np.pad(a, pad, mode="edge")
    summed = np.cumsum(padded, axis=axis, dtype=np.float32)
    n = a.shape[axis]
    upper = np.take(summed, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
    lower = np.take(summed, np.arange(0, n), axis=axis)
    return (upper - lower) / (2 * radius + 1)


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-like blur in float (three box passes per axis); sigma in pixels."""
    if sigma <= 0:
        return a
    radius = max(1, round((np.sqrt(12 * sigma * sigma / 3 + 1) - 1) / 2))
    for _ in range(3):
        a = _box_blur(a, radius, 0)
        a = _box_blur(a, radius, 1)
    return a


def _vignette(canvas: Canvas, strength: float, centre: tuple[float, float] = (0.5, 0.5)):
    y, x = _grid()
    d = np.sqrt(((x - centre[0]) * 1.25) ** 2 + (y - centre[1]) ** 2)
    factor = 1.0 - strength * np.clip(d / 0.9, 0.0, 1.0) ** 2
    return canvas * factor[..., None]


def _blend(canvas: Canvas, colour: Color | str, alpha: np.ndarray) -> Canvas:
    return canvas * (1.0 - alpha[..., None]) + _rgb(colour) * alpha[..., None]


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _bokeh(
    canvas: Canvas,
    rng: np.random.Generator,
    *,
    count: int,
    radius: tuple[float, float],
    colours: Sequence[Color | str],
    intensity: tuple[float, float],
    region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
) -> Canvas:
    """Out-of-focus lights: soft discs with a slightly brighter rim, added as light."""
    light = np.zeros_like(canvas)
    x0, y0, x1, y1 = region
    for _ in range(count):
        r = rng.uniform(*radius)
        cx = rng.uniform(x0, x1) * WIDTH
        cy = rng.uniform(y0, y1) * HEIGHT
        colour = _rgb(colours[rng.integers(len(colours))])
        level = rng.uniform(*intensity)
        left, right = int(max(0, cx - r - 3)), int(min(WIDTH, cx + r + 4))
        top, bottom = int(max(0, cy - r - 3)), int(min(HEIGHT, cy + r + 4))
        if left >= right or top >= bottom:
            continue
        yy, xx = np.mgrid[top:bottom, left:right].astype(np.float32)
        d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / r
        disc = 1.0 - _smoothstep(0.86, 1.0, d)
        rim = np.exp(-(((d - 0.9) / 0.07) ** 2)) * 0.12
        shape = (disc * (0.8 + 0.2 * d) + rim) * level
        light[top:bottom, left:right] += shape[..., None] * colour
    light = _blur(light, 1.5)
    # Add as light and roll off highlights instead of clipping them.
    return 1.0 - (1.0 - canvas) * np.exp(-light)


def _to_image(canvas: Canvas, rng: np.random.Generator) -> Image.Image:
    """Float canvas -> 8-bit RGB with triangular dither (no banding in smooth gradients)."""
    dither = rng.random(canvas.shape, dtype=np.float32) - rng.random(canvas.shape, dtype=np.float32)
    values = np.clip(canvas * 255.0 + dither + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(values, "RGB")


# ---------------------------------------------------------------- backgrounds


def _mesh(rng: np.random.Generator, base: str, blobs: Sequence[tuple[float, float, float, str]]):
    """Soft 'mesh gradient': coloured light blobs (x, y, size, colour) over a base colour,
    with the coordinates gently warped by noise so the shapes look organic."""
    y, x = _grid()
    warp_x = (_smooth_noise(rng, (3, 5)) - 0.5) * 0.18
    warp_y = (_smooth_noise(rng, (3, 5)) - 0.5) * 0.18
    x = x + warp_x
    y = y + warp_y
    weights_sum = np.full((HEIGHT, WIDTH), 0.35, dtype=np.float32)
    colour_sum = weights_sum[..., None] * _rgb(base)
    for bx, by, size, colour in blobs:
        w = np.exp(-(((x - bx) * 1.7) ** 2 + (y - by) ** 2) / (size * size)).astype(np.float32)
        weights_sum += w
        colour_sum += w[..., None] * _rgb(colour)
    return colour_sum / weights_sum[..., None]


def draw_soft_dawn(rng: np.random.Generator) -> Canvas:
    canvas = _mesh(
        rng,
        "#fbe9df",
        [
            (0.05, 0.1, 0.42, "#ffc4a8"),
            (0.85, 0.05, 0.40, "#f7b6d2"),
            (0.95, 0.85, 0.45, "#c8b6ff"),
            (0.15, 0.95, 0.45, "#ffe0b8"),
            (0.5, 0.5, 0.30, "#fff4ec"),
        ],
    )
    return _vignette(canvas, 0.06)


def draw_aurora(rng: np.random.Generator) -> Canvas:
    canvas = _mesh(
        rng,
        "#0b1230",
        [
            (0.1, 0.15, 0.38, "#1e8f8a"),
            (0.75, 0.2, 0.42, "#3b2f9e"),
            (0.55, 0.85, 0.40, "#0f5b73"),
            (0.95, 0.75, 0.30, "#6c3fb5"),
            (0.3, 0.6, 0.25, "#123a6b"),
        ],
    )
    return _vignette(canvas, 0.25)


def _studio(rng: np.random.Generator, centre: str, edge: str) -> Canvas:
    y, x = _grid()
    d = np.sqrt(((x - 0.5) * 1.15) ** 2 + ((y - 0.42) * 1.05) ** 2)
    canvas = _gradient(np.clip(d / 0.85, 0, 1), [(0.0, centre), (0.55, centre), (1.0, edge)])
    canvas = _gradient(np.clip(d / 0.85, 0, 1) ** 1.2, [(0.0, centre), (1.0, edge)])
    # Hand-painted canvas backdrops are mottled: two octaves of soft noise.
    mottle = (_smooth_noise(rng, (5, 8)) - 0.5) * 0.10 + (_smooth_noise(rng, (14, 24)) - 0.5) * 0.04
    return np.clip(canvas * (1.0 + mottle[..., None]), 0.0, 1.0)


def draw_studio_grey(rng: np.random.Generator) -> Canvas:
    return _studio(rng, "#9a9c9f", "#2f3133")


def draw_studio_blue(rng: np.random.Generator) -> Canvas:
    return _studio(rng, "#4f7f96", "#132a38")


def draw_office_lights(rng: np.random.Generator) -> Canvas:
    y, x = _grid()
    canvas = _gradient(y, [(0.0, "#3b3431"), (0.55, "#2a2422"), (1.0, "#1a1615")])
    # Blurred windows on the left and a lit wall on the right.
    windows = np.zeros((HEIGHT, WIDTH), dtype=np.float32)
    for left in (0.04, 0.17, 0.30):
        windows += ((x > left) & (x < left + 0.10) & (y > 0.08) & (y < 0.62)).astype(np.float32)
    windows = _blur(windows, 38)
    canvas = _blend(canvas, "#d9e4ee", windows * 0.55)
    wall = _blur(((x > 0.62) & (y < 0.7)).astype(np.float32), 60) * 0.25
    canvas = _blend(canvas, "#8a6f5c", wall)
    # A desk edge and a plant-like dark mass, out of focus.
    desk = _blur((y > 0.78).astype(np.float32), 18)
    canvas = _blend(canvas, "#4a3a30", desk * 0.8)
    canvas = _bokeh(
        canvas,
        rng,
        count=70,
        radius=(14, 60),
        colours=["#ffd9a0", "#ffe8c4", "#ffc27a", "#fff3de"],
        intensity=(0.15, 0.55),
        region=(0.35, 0.0, 1.0, 0.75),
    )
    canvas = _bokeh(
        canvas,
        rng,
        count=20,
        radius=(30, 90),
        colours=["#cfe3ff", "#e8f0ff"],
        intensity=(0.08, 0.25),
        region=(0.0, 0.05, 0.45, 0.65),
    )
    return _vignette(canvas, 0.35)


def draw_city_night(rng: np.random.Generator) -> Canvas:
    y, _x = _grid()
    canvas = _gradient(y, [(0.0, "#070b1f"), (0.5, "#101a3d"), (1.0, "#1b1436")])
    canvas = _bokeh(
        canvas,
        rng,
        count=120,
        radius=(10, 55),
        colours=["#ffb347", "#ff6f61", "#4fc3f7", "#7c4dff", "#ffe082", "#26c6da"],
        intensity=(0.12, 0.6),
        region=(0.0, 0.25, 1.0, 1.0),
    )
    canvas = _bokeh(
        canvas,
        rng,
        count=25,
        radius=(60, 120),
        colours=["#5c6bc0", "#ff8a65", "#4dd0e1"],
        intensity=(0.05, 0.15),
    )
    return _vignette(canvas, 0.3)


def _ridge(rng: np.random.Generator, base: float, amplitude: float, cells: int) -> np.ndarray:
    """A mountain outline: height (0..1, from the top) per column."""
    coarse = rng.random((1, cells), dtype=np.float32)
    line = Image.fromarray(coarse, "F").resize((WIDTH, 1), Image.Resampling.BICUBIC)
    fine = rng.random((1, cells * 6), dtype=np.float32)
    detail = Image.fromarray(fine, "F").resize((WIDTH, 1), Image.Resampling.BICUBIC)
    profile = np.asarray(line)[0] * 0.8 + np.asarray(detail)[0] * 0.2
    return base - amplitude * profile


def draw_sunset(rng: np.random.Generator) -> Canvas:
    y, x = _grid()
    horizon = 0.66
    sky_t = np.clip(y / horizon, 0, 1)
    canvas = _gradient(
        sky_t,
        [
            (0.0, "#2a1b4d"),
            (0.35, "#6b2f72"),
            (0.62, "#d24d6e"),
            (0.85, "#ff8c52"),
            (1.0, "#ffc978"),
        ],
    )
    sun_x, sun_y = 0.64, horizon - 0.045
    d = np.sqrt(((x - sun_x) * 1.78) ** 2 + (y - sun_y) ** 2)
    glow = np.exp(-((d / 0.22) ** 2)) * 0.55 + np.exp(-((d / 0.08) ** 2)) * 0.4
    canvas = 1.0 - (1.0 - canvas) * np.exp(-glow[..., None] * _rgb("#ffd08a") * 1.8)
    sun = 1.0 - _smoothstep(0.055, 0.062, d)
    canvas = _blend(canvas, "#fff1c9", sun)
    # Sea: the sky's lower colours, darker, with a shimmering path under the sun.
    sea_t = np.clip((y - horizon) / (1 - horizon), 0, 1)
    sea = _gradient(sea_t, [(0.0, "#c8566a"), (0.4, "#5b2c5f"), (1.0, "#1c1433")])
    streaks = 0.5 + 0.5 * np.sin(y * HEIGHT * 0.9 + _smooth_noise(rng, (40, 6)) * 25)
    path = np.exp(-(((x - sun_x) / (0.03 + 0.18 * sea_t)) ** 2)) * (1 - sea_t * 0.6)
    sea = sea + (path * streaks * 0.45)[..., None] * _rgb("#ffc98a")
    canvas = np.where((y > horizon)[..., None], sea, canvas)
    # A distant headland standing on the horizon, and a near cliff sloping into the sea.
    for base, amplitude, cells, end, floor, colour in (
        (horizon + 0.001, 0.06, 6, 0.40, horizon + 0.001, "#5e2d61"),
        (horizon + 0.16, 0.30, 3, 0.24, 1.02, "#1f0f2e"),
    ):
        ridge = _ridge(rng, base, amplitude, cells)
        ridge = ridge + _smoothstep(end - 0.16, end + 0.02, x[0]) * (floor - ridge)
        alpha = _smoothstep(-0.0015, 0.0015, y - ridge[None, :]) * (y <= floor)
        canvas = _blend(canvas, colour, alpha.astype(np.float32))
    canvas = _blur(canvas, 1.5)
    return _vignette(canvas, 0.2)


_BOOK_COLOURS = [
    "#7b2d26",
    "#1f3a5f",
    "#2f5d50",
    "#c49a3c",
    "#e8dcc2",
    "#3c6e71",
    "#5a3e2b",
    "#6d6875",
    "#9c4f3d",
    "#284b63",
    "#a3a380",
    "#d6c7a1",
    "#3d405b",
    "#81b29a",
    "#b56576",
]


def draw_bookshelf(rng: np.random.Generator) -> Canvas:
    scale = 1  # drawn at full size, then defocused
    image = Image.new("RGB", (WIDTH * scale, HEIGHT * scale), "#2b1d14")
    draw = ImageDraw.Draw(image)
    rows = 4
    shelf = 26
    row_height = HEIGHT / rows
    for row in range(rows):
        top = int(row * row_height)
        floor = int((row + 1) * row_height) - shelf
        x = int(rng.integers(-20, 10))
        while x < WIDTH:
            if rng.random() < 0.06:  # a gap, or a short stack lying flat
                gap = int(rng.integers(40, 120))
                if rng.random() < 0.5:
                    for level in range(int(rng.integers(2, 5))):
                        h = int(rng.integers(16, 26))
                        w = gap - int(rng.integers(0, 20))
                        y1 = floor - level * h
                        colour = _BOOK_COLOURS[int(rng.integers(len(_BOOK_COLOURS)))]
                        draw.rectangle([x, y1 - h + 2, x + w, y1], fill=colour)
                x += gap
                continue
            width = int(rng.integers(18, 52))
            height = int((floor - top) * rng.uniform(0.62, 0.92))
            colour = _BOOK_COLOURS[int(rng.integers(len(_BOOK_COLOURS)))]
            shade = rng.uniform(0.8, 1.1)
            rgb = tuple(int(min(255, c * 255 * shade)) for c in _rgb(colour))
            draw.rectangle([x, floor - height, x + width - 2, floor], fill=rgb)
            # Bands near the top and bottom of the spine, like titles and decorations.
            band = tuple(int(min(255, c * 1.35 + 20)) for c in rgb)
            if rng.random() < 0.8:
                y_band = floor - height + int(height * rng.uniform(0.08, 0.18))
                draw.rectangle([x + 2, y_band, x + width - 4, y_band + 4], fill=band)
            if rng.random() < 0.6:
                y_band = floor - int(height * rng.uniform(0.1, 0.16))
                draw.rectangle([x + 2, y_band, x + width - 4, y_band + 3], fill=band)
            x += width
        # The shelf plank: a lit front edge and a shadow underneath.
        draw.rectangle([0, floor, WIDTH, floor + shelf], fill="#6b4a32")
        draw.rectangle([0, floor, WIDTH, floor + 3], fill="#8c6646")
    canvas = np.asarray(image, dtype=np.float32) / 255.0
    y, x = _grid()
    # Each shelf row gets a shadow from the plank above it.
    row_pos = (y * rows) % 1.0
    canvas *= (0.55 + 0.45 * _smoothstep(0.0, 0.25, row_pos))[..., None]
    grain = (_smooth_noise(rng, (60, 8)) - 0.5) * 0.08
    canvas *= (1.0 + grain)[..., None]
    canvas = _blur(canvas, 5.0)  # shallow depth of field: readable, never distracting
    # Warm light from the upper left.
    light = np.exp(-(((x - 0.2) * 1.3) ** 2 + (y - 0.1) ** 2) / 0.35)
    canvas = canvas * (0.7 + 0.5 * light[..., None]) * _rgb("#fff0dc")
    return _vignette(np.clip(canvas, 0, 1), 0.35)


def draw_low_poly(rng: np.random.Generator) -> Canvas:
    scale = 2  # supersampled for clean edges
    cols, rows = 16, 9
    step_x, step_y = WIDTH * scale / cols, HEIGHT * scale / rows
    points = np.zeros((rows + 1, cols + 1, 2), dtype=np.float32)
    for r in range(rows + 1):
        for c in range(cols + 1):
            jx = 0 if c in (0, cols) else rng.uniform(-0.38, 0.38) * step_x
            jy = 0 if r in (0, rows) else rng.uniform(-0.38, 0.38) * step_y
            points[r, c] = (c * step_x + jx, r * step_y + jy)
    image = Image.new("RGB", (WIDTH * scale, HEIGHT * scale))
    draw = ImageDraw.Draw(image)
    stops = [(0.0, "#1e1b4b"), (0.35, "#3730a3"), (0.7, "#4f46e5"), (1.0, "#0e7490")]
    for r in range(rows):
        for c in range(cols):
            a, b = points[r, c], points[r, c + 1]
            d, e = points[r + 1, c], points[r + 1, c + 1]
            for triangle in (
                ((a, b, e), (a, e, d)) if rng.random() < 0.5 else ((a, b, d), (b, e, d))
            ):
                centroid = np.mean(triangle, axis=0)
                t = (centroid[0] / (WIDTH * scale)) * 0.65 + (centroid[1] / (HEIGHT * scale)) * 0.35
                colour = _gradient(np.array([t]), stops)[0] * rng.uniform(0.9, 1.12)
                rgb = tuple(int(np.clip(v, 0, 1) * 255) for v in colour)
                draw.polygon([tuple(p) for p in triangle], fill=rgb)
    image = image.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    canvas = np.asarray(image, dtype=np.float32) / 255.0
    return _vignette(canvas, 0.25)


def draw_indigo_waves(rng: np.random.Generator) -> Canvas:
    y, x = _grid()
    canvas = _gradient(x * 0.7 + y * 0.3, [(0.0, "#1b1650"), (0.6, "#312a8c"), (1.0, "#4338ca")])
    for k in range(7):
        phase = rng.uniform(0, 2 * np.pi)
        freq = rng.uniform(1.2, 2.4)
        base = 0.35 + k * 0.09
        amplitude = rng.uniform(0.04, 0.09)
        curve = base + amplitude * np.sin(2 * np.pi * freq * x + phase) * (0.6 + 0.4 * x)
        distance = y - curve
        band = _smoothstep(-0.004, 0.004, distance) * np.exp(-np.clip(distance, 0, None) / 0.35)
        colour = ["#6366f1", "#8b5cf6", "#818cf8", "#a78bfa"][k % 4]
        canvas = _blend(canvas, colour, band * 0.16)
        # A thin bright line on the crest.
        canvas = _blend(canvas, "#c7d2fe", np.exp(-((distance / 0.0025) ** 2)) * 0.18)
    return _vignette(canvas, 0.2)


BUILTINS: tuple[BuiltinBackground, ...] = (
    BuiltinBackground("studio-grey", "Studio grey", draw_studio_grey, 11),
    BuiltinBackground("office-lights", "Office lights", draw_office_lights, 12),
    BuiltinBackground("bookshelf", "Library shelves", draw_bookshelf, 13),
    BuiltinBackground("sunset", "Sunset coast", draw_sunset, 14),
    BuiltinBackground("soft-dawn", "Soft dawn", draw_soft_dawn, 15),
    BuiltinBackground("city-night", "City at night", draw_city_night, 16),
    BuiltinBackground("low-poly", "Low poly indigo", draw_low_poly, 17),
    BuiltinBackground("indigo-waves", "Indigo waves", draw_indigo_waves, 18),
    BuiltinBackground("aurora", "Aurora", draw_aurora, 19),
    BuiltinBackground("studio-blue", "Studio blue", draw_studio_blue, 20),
)


def render(slug: str) -> Image.Image:
    """The built-in background ``slug`` as a 1920x1080 RGB image (deterministic)."""
    for builtin in BUILTINS:
        if builtin.slug == slug:
            rng = np.random.default_rng(builtin.seed)
            canvas = builtin.draw(rng).astype(np.float32)
            return _to_image(np.clip(canvas, 0.0, 1.0), rng)
    raise KeyError(slug)
