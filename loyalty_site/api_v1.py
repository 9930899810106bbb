"""REST API v1: each app adds its endpoints here (integrations, rewards, ... in later issues)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

urlpatterns = [
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs", SpectacularRedocView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("integrations.urls")),
]
