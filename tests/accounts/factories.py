"""Small factories for account tests: a person's background and composite, files included."""

import io

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from backgrounds.services import background_upload
from compositing.models import Composite


def jpeg(width: int = 320, height: int = 180, colour: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG")
    return out.getvalue()


def png(width: int = 320, height: int = 180) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height), 128).save(out, "PNG")
    return out.getvalue()


def make_background(owner, name: str = "Beach"):
    return background_upload(user=owner, file=SimpleUploadedFile(f"{name}.jpg", jpeg()), name=name)


def make_composite(owner) -> Composite:
    """A finished composite with every kind of file it can own (no model call needed)."""
    composite = Composite(owner=owner, status=Composite.Status.DONE, width=320, height=180)
    composite.source.save("source.jpg", ContentFile(jpeg()), save=False)
    composite.mask.save("mask.png", ContentFile(png()), save=False)
    composite.result.save("result.jpg", ContentFile(jpeg(colour="navy")), save=False)
    composite.thumbnail.save("thumb.jpg", ContentFile(jpeg(160, 90)), save=False)
    composite.background_image.save("background.jpg", ContentFile(jpeg()), save=False)
    composite.save()
    return composite
