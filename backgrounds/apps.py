from django.apps import AppConfig


class BackgroundsConfig(AppConfig):
    name = "backgrounds"
