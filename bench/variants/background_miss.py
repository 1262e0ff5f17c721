"""bench_variants.py: a library background missing from the canvas cache (a worker's
first composite, a new photo size), decoded on the request's thread beside the photo's
decode (``ResolvedBackground.prefetch``, stored JPEGs through libjpeg-turbo) or as before
(Pillow's decode, on the side thread when the canvas is made); and the same with the
canvas cached. Measured 2026-12-01, two runs: a miss 31.1 and 40.1 ms before against 29.1
and 37.8 ms prefetched, a hit 27.0 and 35.4 against 26.6 and 35.2 ms."""

from django.conf import settings

from compositing import imaging
from compositing.services import background_choice
from compositing.services.background_cache import cache_clear

_new_decode = background_choice.stored_image_decode
_new_prefetch = background_choice.ResolvedBackground.prefetch


def _old_decode(data):
    image = imaging.load_image(data, max_pixels=settings.VBG_MAX_IMAGE_PIXELS, min_side=1)
    return image if image.mode == "RGB" else image.convert("RGB")


def _use(decode, prefetch, clear):
    def switch():
        if clear:
            cache_clear()
        background_choice.stored_image_decode = decode
        background_choice.ResolvedBackground.prefetch = prefetch

    return switch


def _no_prefetch(self, size, placement):
    return None


VARIANTS = {
    "miss, before": _use(_old_decode, _no_prefetch, True),
    "miss, prefetched": _use(_new_decode, _new_prefetch, True),
    "hit, before": _use(_old_decode, _no_prefetch, False),
    "hit, prefetched": _use(_new_decode, _new_prefetch, False),
}
