"""Errors a user can cause anywhere in the application, each with a stable code, a message and
a status.

No Django here: the pure modules (``imaging``, ``compose``, the video pipeline) raise these
too, and every app (accounts, backgrounds, compositing) subclasses ``AppError`` for its own.
Every interface maps them in one place: the website turns ``error.message`` into a page message with
``error.http_status``; the API answers ``{"code": error.code, "detail": error.message}``.

Hierarchy (catch the base class to handle them all)::

    AppError                500 (base, never raised itself)
    ├── InvalidImage        invalid_image            400  corrupt, truncated, empty, not an image
    │   ├── ImageTooSmall   image_too_small          400  a side below the minimum (e.g. 1x1)
    │   ├── ImageTooLarge   image_too_large          413  too many pixels, decompression bomb
    │   └── UnsupportedMediaType unsupported_media_type 415  an image, but not a format we take
    ├── FileTooLarge        file_too_large           413  upload over the byte limit
    ├── InvalidVideo        invalid_video            400
    ├── VideoTooLong        video_too_long           413
    ├── VideoTooLarge       video_too_large          413  frames with too many pixels
    ├── InvalidColor        invalid_color            400  not "#RRGGBB"
    ├── InvalidOption       invalid_option           400  unknown mode / format, missing background
    ├── NoPerson            no_person                422  no person found in the photo
    ├── QuotaExceeded       quota_exceeded           403  background library full
    ├── RateLimited         throttled                429  too many composites (retry_after)
    ├── NotFound            not_found                404  missing, or another user's
    ├── ModelUnavailable    model_unavailable        503  model not installed (server side)
    └── ServiceUnavailable  service_unavailable      503  storage or database did not answer in time

``UnsupportedMediaType`` subclasses ``InvalidImage`` so that ``except InvalidImage`` keeps
catching everything ``load_image`` raises (the contract in ARCHITECTURE.md).
"""

from __future__ import annotations


class AppError(Exception):
    """Base class. ``code`` is stable (clients switch on it); ``message`` is for people."""

    code: str = "app_error"
    http_status: int = 500
    default_message: str = "The image could not be processed."

    def __init__(self, message: str | None = None) -> None:
        self.message: str = message or self.default_message
        super().__init__(self.message)

    def as_dict(self) -> dict[str, str]:
        """The API's error body: ``{"code": ..., "detail": ...}``."""
        return {"code": self.code, "detail": self.message}


class InvalidImage(AppError):
    code = "invalid_image"
    http_status = 400
    default_message = "This file is not a valid image (it may be corrupt or truncated)."


class ImageTooSmall(InvalidImage):
    code = "image_too_small"
    http_status = 400
    default_message = "This image is too small."


class ImageTooLarge(InvalidImage):
    code = "image_too_large"
    http_status = 413
    default_message = "This image has too many pixels."


class UnsupportedMediaType(InvalidImage):
    code = "unsupported_media_type"
    http_status = 415
    default_message = "This image format is not supported."


class FileTooLarge(AppError):
    code = "file_too_large"
    http_status = 413
    default_message = "This file is too large."


class InvalidVideo(AppError):
    code = "invalid_video"
    http_status = 400
    default_message = "This file is not a video we can read."


class VideoTooLong(AppError):
    code = "video_too_long"
    http_status = 413
    default_message = "This video is too long."


class VideoTooLarge(AppError):
    code = "video_too_large"
    http_status = 413
    default_message = "This video's frames have too many pixels."


class InvalidColor(AppError):
    code = "invalid_color"
    http_status = 400
    default_message = "Colours are written as #RRGGBB, for example #1E90FF."


class InvalidOption(AppError):
    code = "invalid_option"
    http_status = 400
    default_message = "This combination of options is not valid."


class NoPerson(AppError):
    code = "no_person"
    http_status = 422
    default_message = "No person was found in this photo. Try a photo with a person in it."


class QuotaExceeded(AppError):
    code = "quota_exceeded"
    http_status = 403
    default_message = "Your background library is full. Delete a background to add another."


class RateLimited(AppError):
    """Over a rate limit; ``retry_after`` is whole seconds until one more is allowed."""

    code = "throttled"
    http_status = 429
    default_message = "Too many requests; please wait a moment."

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, str]:
        return {**super().as_dict(), "retry_after": self.retry_after}  # type: ignore[dict-item]


class NotFound(AppError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."


class ModelUnavailable(AppError):
    code = "model_unavailable"
    http_status = 503
    default_message = "The segmentation model is not installed on this server."


class ServiceUnavailable(AppError):
    """Storage (S3) or the database did not answer within its timeout, or refused us.

    Raised for the request in hand (``vbgsite.dependencies``); ``retry_after`` is a hint in
    seconds. Nothing of the request was kept (services undo what they wrote)."""

    code = "service_unavailable"
    http_status = 503
    default_message = (
        "The service is briefly unavailable: our storage or database did not answer in time. "
        "Nothing was saved; please try again in a moment."
    )
    retry_after = 5
