"""drf-spectacular: the X-Api-Key security scheme, and the error answers every endpoint lists with their codes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
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


def error_response(codes: str) -> OpenApiResponse:
    """An error answer in the one error shape, described by the `code`s it may carry and when."""
    return OpenApiResponse(response=ErrorSerializer, description=codes)


# On every endpoint (the API key is checked, then its scope, then its rate).
AUTH_ERRORS = {
    401: error_response(
        "`not_authenticated`: no X-Api-Key header. `invalid_api_key`: unknown or revoked, or its shop is inactive."
    ),
    403: error_response("`insufficient_scope`: the key lacks the scope this endpoint needs."),
    429: error_response(
        "`throttled`: over the key's rate limit; send it again after the `Retry-After` header's seconds."
    ),
}
BAD_REQUEST = (
    "`validation_error`: a field is missing or invalid (`details` maps fields to messages). `parse_error`: "
    "the body is not JSON."
)
