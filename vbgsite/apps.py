from django.apps import AppConfig
from django.db.backends.signals import connection_created

from vbgsite.dependencies import install_query_deadline


class VbgsiteConfig(AppConfig):
    """The project itself: wires the database's client-side query deadline."""

    name = "vbgsite"
    verbose_name = "Virtual background studio"

    def ready(self) -> None:
        connection_created.connect(install_query_deadline, dispatch_uid="vbg-query-deadline")
