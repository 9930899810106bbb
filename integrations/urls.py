"""API v1 endpoints of the integrations app (included by loyalty_site/api_v1.py)."""

from django.urls import path

from integrations.apis import ShopDetailApi

urlpatterns = [
    path("shop", ShopDetailApi.as_view(), name="shop-detail"),
]
