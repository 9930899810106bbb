"""API v1: the calling shop."""

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response

from integrations.api_auth import HasScope, ShopAPIView
from integrations.schema import AUTH_ERRORS


class ShopDetailApi(ShopAPIView):
    permission_classes = [HasScope("read")]

    # Every view's nested serializer is called OutputSerializer; the schema needs a unique component name.
    @extend_schema_serializer(component_name="Shop")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField(source="public_id")
        name = serializers.CharField()
        kind = serializers.CharField()
        currency = serializers.CharField()
        time_zone = serializers.CharField()

    @extend_schema(
        operation_id="shop_retrieve",
        summary="The calling shop",
        description="The shop the API key belongs to. Needs the `read` scope.",
        responses={200: OutputSerializer, **AUTH_ERRORS},
        examples=[
            OpenApiExample(
                "A web store",
                value={
                    "id": "6f1c2a34-5b7d-4e8f-9a0b-1c2d3e4f5a6b",
                    "name": "Webshop NL",
                    "kind": "web",
                    "currency": "EUR",
                    "time_zone": "Europe/Amsterdam",
                },
                response_only=True,
            )
        ],
        tags=["shop"],
    )
    def get(self, request):
        return Response(self.OutputSerializer(request.auth.shop).data)
