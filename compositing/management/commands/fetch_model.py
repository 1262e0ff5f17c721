"""``manage.py fetch_model``: install segmentation weights into ``VBG_MODEL_DIR``.

    python manage.py fetch_model [--force] [--wheel FILE]        # the default selfie networks
    python manage.py fetch_model --torchvision ARCH              # torchvision's COCO/VOC weights
    python manage.py fetch_model --import FILE --arch ARCH --name NAME
    python manage.py fetch_model --pull ARCH:NAME                # from the S3 bucket

The default form downloads the ``mediapipe==0.10.14`` wheel from PyPI with pip (or reads
``--wheel``), checks both models' SHA-256 and converts them to torch; it is quick and
offline when the converted files already verify. Failures are one line (offline, hash
mismatch, ...). The logic lives in ``compositing.segmentation.weights`` (catalog, mediapipe) and
``compositing.model_store``; this is the command-line wrapper.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from compositing.model_store import (
    ModelStoreError,
    model_fetch_torchvision,
    model_import,
    model_pull,
)
from compositing.segmentation.errors import SegmentationError
from compositing.segmentation.weights.mediapipe import weights_fetch


class Command(BaseCommand):
    help = "Fetch, verify and convert the segmentation weights into VBG_MODEL_DIR."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model-dir", help="target directory (default: VBG_MODEL_DIR)")
        parser.add_argument("--force", action="store_true", help="convert again even if present")
        parser.add_argument("--wheel", help="use this local mediapipe 0.10.14 wheel (no download)")
        parser.add_argument("--torchvision", metavar="ARCH", help="torchvision published weights")
        parser.add_argument("--import", dest="import_path", metavar="FILE", help="weights file")
        parser.add_argument("--arch", help="architecture of --import")
        parser.add_argument("--name", help="weights name of --import (model ARCH:NAME)")
        parser.add_argument("--pull", metavar="ARCH:NAME", help="weights from the S3 bucket")

    def handle(self, *args, **options) -> None:
        model_dir = Path(options["model_dir"] or settings.VBG_MODEL_DIR)
        try:
            if options["torchvision"]:
                self._torchvision(options["torchvision"], model_dir, options["force"])
            elif options["import_path"]:
                self._import(options, model_dir)
            elif options["pull"]:
                self._pull(options["pull"], model_dir)
            else:
                self._selfie(model_dir, options)
        except (SegmentationError, ModelStoreError, OSError) as exc:
            raise CommandError(_one_line(exc)) from exc

    def _selfie(self, model_dir: Path, options: dict) -> None:
        wheel = Path(options["wheel"]) if options["wheel"] else None
        if wheel is not None and not wheel.is_file():
            raise CommandError(f"{wheel} does not exist")
        paths = weights_fetch(
            model_dir=model_dir, wheel=wheel, force=options["force"], log=self._log
        )
        self.stdout.write(f"selfie weights ready: {', '.join(str(p) for p in paths)}")

    def _torchvision(self, arch: str, model_dir: Path, force: bool) -> None:
        path = model_fetch_torchvision(arch=arch, model_dir=model_dir, force=force, log=self._log)
        self.stdout.write(f"{arch} weights ready: {path}")

    def _import(self, options: dict, model_dir: Path) -> None:
        if not options["arch"] or not options["name"]:
            raise CommandError("--import needs --arch ARCH and --name NAME")
        local, stored = model_import(
            path=Path(options["import_path"]),
            arch=options["arch"],
            name=options["name"],
            model_dir=model_dir,
        )
        where = f" and {stored} in the bucket" if stored else ""
        self.stdout.write(f"imported {options['arch']}:{options['name']}: {local}{where}")

    def _pull(self, model: str, model_dir: Path) -> None:
        self.stdout.write(f"pulled {model}: {model_pull(model=model, model_dir=model_dir)}")

    def _log(self, message: str) -> None:
        self.stdout.write(message)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__
