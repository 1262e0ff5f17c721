"""Temporary files and folders, named so that a killed process's leftovers can be found.

Everything the application writes outside storage goes under ``VBG_WORK_DIR`` (default:
the system's temporary folder) with a name ``vbg-<kind>-<pid>-<random>``: large uploads
(``upload``: Django's temporary upload files, through ``WorkFileUploadHandler``), a video
upload's local copy (``video-upload``) and a video job's work folder (``video``). A
process that exits normally removes its own; one that is killed (SIGKILL, out of memory, a
dyno restart) cannot, so ``work_files_clean_stale`` removes every entry whose process is
gone. It runs when the web server starts (gunicorn's ``on_starting``), when a web worker
dies (``child_exit``: only that worker's files), when the task worker starts, and daily in
the worker with the storage sweep. Entries older than ``VBG_WORK_MAX_AGE_SECONDS`` go too,
in case the process id has been reused.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^vbg-(?P<kind>[a-z][a-z-]*?)-(?P<pid>\d+)-")


def work_root() -> Path:
    """The folder holding every work file (created if missing)."""
    root = Path(settings.VBG_WORK_DIR or tempfile.gettempdir())
    root.mkdir(parents=True, exist_ok=True)
    return root


def _prefix(kind: str) -> str:
    return f"vbg-{kind}-{os.getpid()}-"


def work_dir(kind: str) -> Path:
    """A new empty folder ``vbg-<kind>-<pid>-...`` for this process; the caller removes it."""
    return Path(tempfile.mkdtemp(prefix=_prefix(kind), dir=work_root()))


def work_file(kind: str, suffix: str = ""):
    """A named temporary file ``vbg-<kind>-<pid>-...<suffix>``, removed when closed."""
    return tempfile.NamedTemporaryFile(prefix=_prefix(kind), suffix=suffix, dir=work_root())


@dataclass(frozen=True)
class CleanReport:
    removed: int  # files and folders removed
    bytes: int


def work_files_clean_stale(*, pid: int | None = None) -> CleanReport:
    """Remove the work files of processes that are gone (or only ``pid``'s, when given).

    Entries of live processes are kept unless older than ``VBG_WORK_MAX_AGE_SECONDS``;
    this process's own are never touched. Never raises: failures are logged.
    """
    removed = size = 0
    try:
        entries = list(work_root().iterdir())
    except OSError:
        logger.exception("cannot list the work folder")
        return CleanReport(0, 0)
    oldest = time.time() - settings.VBG_WORK_MAX_AGE_SECONDS
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None:
            continue
        owner = int(match["pid"])
        if owner == os.getpid() or (pid is not None and owner != pid):
            continue
        if pid is None and _alive(owner) and _modified(entry) > oldest:
            continue
        entry_size = _size(entry)
        if _remove(entry):
            removed += 1
            size += entry_size
    if removed:
        logger.warning("removed %d stale work files (%d bytes)", removed, size)
    return CleanReport(removed, size)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _modified(entry: Path) -> float:
    try:
        return entry.stat().st_mtime
    except OSError:
        return 0.0


def _size(entry: Path) -> int:
    try:
        if entry.is_dir() and not entry.is_symlink():
            return sum(p.stat().st_size for p in entry.rglob("*") if p.is_file())
        return entry.stat().st_size
    except OSError:
        return 0


def _remove(entry: Path) -> bool:
    try:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    except FileNotFoundError:
        return False
    except OSError:
        logger.exception("cannot remove stale work file %s", entry)
        return False
    return True


class _WorkUploadedFile(TemporaryUploadedFile):
    """Django's temporary upload file, named ``vbg-upload-<pid>-...`` in the work folder."""

    def __init__(self, name, content_type, size, charset, content_type_extra=None) -> None:
        _stem, ext = os.path.splitext(name)
        file = work_file("upload", suffix=".upload" + ext[:16])
        UploadedFile.__init__(self, file, name, content_type, size, charset, content_type_extra)


class WorkFileUploadHandler(TemporaryFileUploadHandler):
    """``FILE_UPLOAD_HANDLERS``: uploads too large for memory go to a named work file."""

    def new_file(self, *args, **kwargs) -> None:
        super(TemporaryFileUploadHandler, self).new_file(*args, **kwargs)
        self.file = _WorkUploadedFile(
            self.file_name, self.content_type, 0, self.charset, self.content_type_extra
        )
