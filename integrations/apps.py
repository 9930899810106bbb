from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Shops and API"

    def ready(self):
        from integrations import checks, schema  # noqa: F401  the API_RATE_LIMIT check; the X-Api-Key scheme
