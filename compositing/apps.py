from django.apps import AppConfig


class CompositingConfig(AppConfig):
    name = "compositing"
