#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vbgsite.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads vbgsite/settings.py, which checks the environment
    except ImproperlyConfigured as exc:
        # One clear line instead of a traceback through the import machinery.
        sys.exit(f"manage.py: bad settings: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
