"""Pillow images in any mode and colour profile -> 8-bit sRGB, upright.

``compositing.imaging.load_image`` decodes an upload and hands the result here: the EXIF
orientation (:func:`exif_orientation`, :data:`TRANSPOSE`), the ICC profile (converted to
sRGB by lcms, unless it is sRGB already: :func:`icc_transform`) and every mode (16-bit,
float, CMYK, palette, grey) to 8-bit RGB or RGBA (:func:`to_srgb`). Pillow and numpy only.
"""

from __future__ import annotations

import io
import logging
from functools import lru_cache

import numpy as np
from PIL import Image, ImageCms

logger = logging.getLogger(__name__)


def exif_orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))  # 0x0112: Orientation
    except Exception:  # malformed EXIF must not make a good photo unusable
        return 1


TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@lru_cache(maxsize=16)
def icc_transform(icc: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform | None:
    """A cached ICC -> sRGB transform, or None when the profile is sRGB or unusable.

    NOCACHE makes one transform safe to share between threads (lcms keeps a one-pixel
    cache in the transform otherwise).
    """
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(profile) or ""
        if in_mode != "CMYK" and "srgb" in description.lower():
            return None
        return ImageCms.buildTransform(
            profile,
            _srgb_profile(),
            in_mode,
            out_mode,
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            flags=ImageCms.Flags.NOCACHE,
        )
    except Exception as exc:
        logger.debug("ignoring unusable ICC profile: %r", exc)
        return None


def _high_bit_depth_to_l(image: Image.Image) -> Image.Image:
    """I;16*, I and F greyscale -> 8-bit L, scaled from the values' evident range."""
    values = np.asarray(image)
    if image.mode.startswith("I;16"):
        scaled = (values.astype(np.uint32) * 255 + 32767) // 65535
    else:
        values = values.astype(np.float32)
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if finite.size else 0.0
        if image.mode == "F" and top <= 1.0:
            scale = 255.0  # float images in 0..1
        elif top <= 255.0:
            scale = 1.0  # already 8-bit values
        else:
            scale = 255.0 / 65535.0  # 16-bit values in a 32-bit container
        scaled = np.nan_to_num(values * scale, nan=0.0, posinf=255.0, neginf=0.0) + 0.5
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")


def to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB or RGBA in sRGB."""
    mode = image.mode
    if mode.startswith("I;16") or mode in {"I", "F"}:
        return _high_bit_depth_to_l(image).convert("RGB")
    if mode == "CMYK":
        transform = icc_transform(icc, "CMYK", "RGB") if icc else None
        if transform is not None:
            return transform.apply(image)
        return image.convert("RGB")
    if mode == "P":
        has_alpha = "transparency" in image.info or image.palette.mode == "RGBA"
        image = image.convert("RGBA" if has_alpha else "RGB")
    elif mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        image = image.convert("RGBA") if mode != "RGBA" else image
    elif mode != "RGB":
        image = image.convert("RGB")  # 1, L, RGBX, YCbCr, LAB, HSV
    if icc and mode in {"RGB", "RGBA", "RGBX", "P"}:
        transform = icc_transform(icc, image.mode, image.mode)
        if transform is not None:
            image = transform.apply(image)
    return image


def keeps_pixels(mode: str, icc: bytes | None) -> bool:
    """True when :func:`to_srgb` returns an image of ``mode`` with profile ``icc`` as it
    is: 8-bit RGB with no profile, or with an sRGB one."""
    return mode == "RGB" and (not icc or icc_transform(icc, "RGB", "RGB") is None)
