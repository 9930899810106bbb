from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Shops and API"

    def ready(self):
        from integrations import schema  # noqa: F401  registers the X-Api-Key scheme with drf-spectacular
