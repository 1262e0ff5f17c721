"""``manage.py seed_backgrounds``: create (or repair) the built-in backgrounds. Idempotent."""

from django.core.management.base import BaseCommand

from backgrounds.builtin import BUILTINS
from backgrounds.services import backgrounds_seed_builtin


class Command(BaseCommand):
    help = "Create the built-in backgrounds (and re-create any whose files are missing)."

    def handle(self, *args, **options) -> None:
        written = backgrounds_seed_builtin()
        self.stdout.write(
            self.style.SUCCESS(
                f"Built-in backgrounds: {len(BUILTINS)} present, {written} written this time."
            )
        )
