"""REST API v1: each app adds its endpoints here (integrations, rewards, ... in later issues)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include("integrations.urls")),
    path("", include("integrations.apis.widget")),  # /api/v1/widget/<widget_key>/...
]
