"""bench_variants.py: local files written by Django's ``FileSystemStorage._save`` (a lock,
then 64 kB chunks through a buffered file) or by one ``os.write`` of the bytes. Measured
2026-12-01 (100 composites each): the store stage 1.7 against 1.5 ms, service time 32.4
against 32.3 ms: not worth a storage class of our own."""

import os

from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

_django = FileSystemStorage._save


def _one_write(self, name, content):
    if not isinstance(content, ContentFile) or self._allow_overwrite:
        return _django(self, name, content)
    data = memoryview(content.file.getbuffer())
    full_path = self.path(name)
    os.makedirs(os.path.dirname(full_path), exist_ok=True)
    while True:
        try:
            fd = os.open(full_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            name = self.get_available_name(name)
            full_path = self.path(name)
            continue
        try:
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
        break
    if self.file_permissions_mode is not None:
        os.chmod(full_path, self.file_permissions_mode)
    return os.path.relpath(full_path, self.location).replace("\\", "/")


def _use(function):
    def switch():
        FileSystemStorage._save = function

    return switch


VARIANTS = {"Django's": _use(_django), "one write": _use(_one_write)}
