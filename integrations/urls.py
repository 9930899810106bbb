"""API v1 endpoints of the integrations app (included by loyalty_site/api_v1.py)."""

from django.urls import path

from integrations.apis import (
    MemberActivityApi,
    MemberAdjustmentApi,
    MemberDetailApi,
    MembersApi,
    ShopDetailApi,
)

urlpatterns = [
    path("shop", ShopDetailApi.as_view(), name="shop-detail"),
    path("members", MembersApi.as_view(), name="members"),
    path("members/<uuid:member_id>", MemberDetailApi.as_view(), name="member-detail"),
    path("members/<uuid:member_id>/activity", MemberActivityApi.as_view(), name="member-activity"),
    path("members/<uuid:member_id>/adjustments", MemberAdjustmentApi.as_view(), name="member-adjustments"),
]
