"""drf-spectacular: describe the X-Api-Key header as the API's security scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.api_auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": "A shop's API key, e.g. lk_live_ab12cd34_... Made in the admin or with "
            "`manage.py shop_create`; shown once.",
        }


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. invalid_api_key, insufficient_scope.")
    message = serializers.CharField(help_text="For humans; may change.")
    details = serializers.DictField(help_text="Extra facts about the error; often empty.")


class ErrorSerializer(serializers.Serializer):
    """The one error shape of API v1 (core.api.exception_handler)."""

    error = ErrorDetailSerializer()
