"""System checks: a bad API_RATE_LIMIT fails at start-up, not as a 500 on the first API request."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def api_rate_limit_check(app_configs, **kwargs):
    from integrations.api_auth import rate_parse

    try:
        limit, _ = rate_parse(settings.API_RATE_LIMIT)
    except (ValueError, TypeError) as error:
        return [Error(str(error), hint="e.g. API_RATE_LIMIT=600/min", id="integrations.E001")]
    if limit < 1:
        return [Error("API_RATE_LIMIT allows no request at all.", hint="e.g. 600/min", id="integrations.E001")]
    return []
