"""HTTP responses both front doors build the same way: a stored file served to its owner,
and a service error turned into a status code.

Used by the website's views and the DRF API views of every app, so that neither ever
imports the other. Services decide who may see a file and which error a request gets;
this module only says how that is answered.

Files: local storage streams the file (``FileResponse``), honouring ``Range`` requests with
``206 Partial Content`` (browsers seek in videos that way; Safari plays nothing without
it); S3 answers a redirect to a short-lived presigned URL carrying the same content type
and disposition (S3 serves ranges itself).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from django import forms
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header

from vbgsite.errors import AppError, InvalidOption, NotFound
from vbgsite.stored_file import StoredFile

# Stored names are random and never reused, so a browser may keep a private file a while.
FILE_CACHE_CONTROL = "private, max-age=3600"
# A redirect to a presigned URL must not outlive the URL (5 minutes by default).
REDIRECT_CACHE_CONTROL = "private, max-age=60"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# Longer numbers are past any file's end (and int() refuses over 4,300 digits).
_MAX_DIGITS = 18
_PAST_ANY_END = 10**_MAX_DIGITS
_CHUNK = 1 << 16


def error_status(error: AppError) -> int:
    """The HTTP status of a service error (always a 4xx or 5xx)."""
    return error.http_status if 400 <= error.http_status < 600 else 400


def form_error(form: forms.Form) -> InvalidOption:
    """A website form that is missing a field, as the service error the API would give."""
    detail = " ".join(str(message) for errors in form.errors.values() for message in errors)
    return InvalidOption(detail or "Please check the form.")


def wants_json(request: HttpRequest) -> bool:
    """The page's script asked for JSON (``Accept: application/json``)."""
    return "application/json" in request.headers.get("Accept", "")


@contextmanager
def not_found_as_404() -> Iterator[None]:
    """Website views: a service's NotFound becomes Django's 404 page (the API's exception
    handler maps NotFound itself)."""
    try:
        yield
    except NotFound as error:
        raise Http404(error.message) from None


def stored_file_response(
    request: HttpRequest, file: StoredFile, *, attachment: bool = False
) -> HttpResponse:
    """Serve one stored file the caller's service has already owner-checked.

    ``file.filename`` is the name in ``Content-Disposition`` (inline, or attachment when
    ``attachment``). A file missing from local storage is Http404; a ``Range`` past the
    end is 416.
    """
    disposition = content_disposition_header(attachment, file.filename)
    try:
        file.storage.path(file.name)
    except NotImplementedError:  # S3: a presigned URL that makes S3 send the same headers
        url = file.storage.url(
            file.name,
            parameters={
                "ResponseContentType": file.content_type,
                "ResponseContentDisposition": disposition,
            },
        )
        response: HttpResponse = HttpResponseRedirect(url)
        response["Cache-Control"] = REDIRECT_CACHE_CONTROL
        return response
    try:
        handle = file.open()
    except FileNotFoundError:
        raise Http404("This file is missing.") from None
    size = file.storage.size(file.name)
    byte_range = _requested_range(request, size)
    if byte_range is None:
        response = FileResponse(
            handle,
            content_type=file.content_type,
            as_attachment=attachment,
            filename=file.filename,
        )
    else:
        response = _partial_response(handle, byte_range, size, file.content_type)
        response["Content-Disposition"] = disposition
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = FILE_CACHE_CONTROL
    return response


def _requested_range(request: HttpRequest, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``Range: bytes=a-b`` request, else None (whole file).

    A range that starts past the end is ``(size, size)``: answered 416."""
    match = _RANGE.match(request.headers.get("Range", "").strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = (_byte_number(digits) for digits in match.groups())
    if first is not None:
        start, end = first, min(last if last is not None else size - 1, size - 1)
    else:  # "bytes=-N": the last N bytes
        start, end = max(0, size - (last or 0)), size - 1
    if start >= size or start > end:
        return size, size
    return start, end


def _byte_number(digits: str) -> int | None:
    """A byte position from a ``Range`` header: None when absent; a number too long to be a
    position in any file stands for "past the end" (never parsed: no 4,300-digit limit)."""
    if not digits:
        return None
    digits = digits.lstrip("0") or "0"
    return _PAST_ANY_END if len(digits) > _MAX_DIGITS else int(digits)


def _partial_response(
    handle: IO[bytes], byte_range: tuple[int, int], size: int, content_type: str
) -> HttpResponse:
    start, end = byte_range
    if start >= size:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    handle.seek(start)
    response = StreamingHttpResponse(
        _read(handle, end - start + 1), status=206, content_type=content_type
    )
    response["Content-Length"] = str(end - start + 1)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


def _read(handle: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            chunk = handle.read(min(_CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        handle.close()
