"""Storage steps every composite shares, photo or video: read a stored file, store files
and then insert the row, and undo what a failed request already wrote.

A request writes its files first and inserts its row last; :class:`Undo` collects what has
been written (storage names, and steps such as "delete the background just saved to the
library") so that a failure anywhere leaves no file without a row and no row without files.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage
from django.db import models, transaction
from django.db.models.fields.files import FieldFile

from vbgsite.dependencies import dependency_failure
from vbgsite.errors import NotFound

logger = logging.getLogger(__name__)


def stored_file_read(file: FieldFile, *, missing: str) -> bytes:
    """The bytes of a stored file; NotFound(``missing``) when storage no longer has it."""
    try:
        with file.storage.open(file.name, "rb") as handle:
            return handle.read()
    except OSError as exc:  # FileNotFoundError, and S3's errors for a missing key
        unavailable = dependency_failure(exc)  # botocore's timeouts are OSErrors too
        if unavailable is not None:
            raise unavailable from exc
        logger.warning("stored file %s is missing: %r", file.name, exc)
        raise NotFound(missing) from exc


def stored_files_delete(storage: Storage, names: Iterable[str]) -> None:
    """Delete ``names`` from ``storage``, logging (never raising) a failure: this is clean-up
    after another error, which must not be hidden."""
    for name in names:
        try:
            storage.delete(name)
        except Exception:
            logger.exception("could not delete %s", name)


def file_suffix(name: str, default: str) -> str:
    """``"users/1/x/source.JPG"`` -> ``"jpg"``; ``default`` when the name has no suffix."""
    return PurePosixPath(name).suffix.lower().lstrip(".") or default


@dataclass
class Undo:
    """What this request has written so far, to delete again if a later step fails."""

    storage: Storage
    names: list[str] = field(default_factory=list)
    steps: list[Callable[[], None]] = field(default_factory=list)

    def run(self) -> None:
        stored_files_delete(self.storage, reversed(self.names))
        for step in reversed(self.steps):
            try:
                step()
            except Exception:
                logger.exception("could not undo a step of a failed request")


# A file to store: its bytes (or an open file) and the extension of its storage name.
FileData = tuple[bytes | IO[bytes], str]


def file_future(data: Future[bytes], ext: str) -> Future[FileData]:
    """``data``'s bytes (being made beside) with their extension, as a future of the same
    computation."""
    file: Future[FileData] = Future()
    data.add_done_callback(
        lambda done: (
            file.set_exception(done.exception())
            if done.exception() is not None
            else file.set_result((done.result(), ext))
        )
    )
    return file


def files_store_then_insert(
    instance: models.Model,
    *,
    files: dict[str, FileData],
    undo: Undo,
    before_insert: Callable[[], None] | None = None,
    on_commit: Callable[[], None] | None = None,
) -> None:
    """Store each file on ``instance``'s FileField of that name, then insert the row.
    The files are stored side by side (``VBG_STORAGE_THREADS``): on S3 their round trips
    overlap.

    files: field name -> (data, extension); the storage name is ``<field>.<extension>``
        under the field's ``upload_to`` (random, per user). Every name written is added to
        ``undo``. before_insert: run after the files are stored (e.g. record timings).
    on_commit: run once the row's transaction commits (e.g. enqueue a task).
    On any failure (storage, database, interrupt) ``undo`` is run and the error re-raised.
    """
    try:
        _store_side_by_side(instance, files, undo)
        if before_insert is not None:
            before_insert()
        with transaction.atomic():
            instance.save(force_insert=True)
            if on_commit is not None:
                transaction.on_commit(on_commit)
    except BaseException:
        undo.run()
        raise


def _store_side_by_side(instance: models.Model, files: dict[str, FileData], undo: Undo) -> None:
    """Each file on its field of ``instance``, taken in turn by the calling thread and the
    process's storage threads, whichever is free, when the storage is remote (S3: each file
    is a HEAD and a PUT, and the round trips then overlap; on moto in its own process 4
    files took 38 against 46 ms). Local files are written by the calling thread alone: a
    local write is mostly Django's Python, so threads only added switches (+0.7 ms). Once
    every file is stored or has failed, the names stored are in ``undo`` (in ``files``'
    order) and the first error is raised."""
    items = list(files.items())
    stored: list[str | None] = [None] * len(items)
    errors: list[BaseException] = []
    pending = iter(range(len(items)))
    lock = threading.Lock()

    def drain() -> None:
        while True:
            with lock:
                index = next(pending, None)
            if index is None or errors:
                return
            field_name, (data, ext) = items[index]
            try:
                stored[index] = _store_one(instance, field_name, data, ext)
            except BaseException as exc:  # the others stop; every stored name is undone
                errors.append(exc)

    remote = not isinstance(undo.storage, FileSystemStorage)
    pool = _storage_pool() if remote else None
    helpers = [pool.submit(drain) for _ in range(min(_pool_size(), len(items) - 1))] if pool else []
    try:
        drain()
    finally:
        for helper in helpers:
            if not helper.cancel():
                helper.result()
        undo.names.extend(name for name in stored if name is not None)
    if errors:
        raise errors[0]


def _store_one(instance: models.Model, field_name: str, data: bytes | IO[bytes], ext: str) -> str:
    field_file: FieldFile = getattr(instance, field_name)
    content = ContentFile(data) if isinstance(data, bytes) else File(data)
    field_file.save(f"{field_name}.{ext}", content, save=False)
    return field_file.name


_pool: tuple[int, ThreadPoolExecutor | None] | None = None
_pool_lock = threading.Lock()


def _pool_size() -> int:
    return settings.VBG_STORAGE_THREADS


def _storage_pool() -> ThreadPoolExecutor | None:
    """This process's storage threads (None: ``VBG_STORAGE_THREADS`` is 0). A pool's
    threads do not survive fork(): one pool per process id."""
    global _pool
    pid = os.getpid()
    if _pool is None or _pool[0] != pid:
        with _pool_lock:
            if _pool is None or _pool[0] != pid:
                size = _pool_size()
                _pool = (pid, ThreadPoolExecutor(size, "store") if size else None)
    return _pool[1]
