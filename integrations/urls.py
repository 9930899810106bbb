"""API v1 endpoints of the integrations app (included by loyalty_site/api_v1.py)."""

from django.urls import path

from integrations.apis import rewards as rewards_apis
from integrations.apis.events import EventCreateApi
from integrations.apis.members import MemberActivityApi, MemberAdjustmentApi, MemberDetailApi, MembersApi
from integrations.apis.orders import OrderCancelApi, OrderCreateApi, OrderRefundApi, OrderSimulateApi
from integrations.apis.orders_batch import OrderBatchApi
from integrations.apis.shop import ShopDetailApi

urlpatterns = [
    path("shop", ShopDetailApi.as_view(), name="shop-detail"),
    path("members", MembersApi.as_view(), name="members"),
    path("members/<uuid:member_id>", MemberDetailApi.as_view(), name="member-detail"),
    path("members/<uuid:member_id>/activity", MemberActivityApi.as_view(), name="member-activity"),
    path("members/<uuid:member_id>/adjustments", MemberAdjustmentApi.as_view(), name="member-adjustments"),
    path("events", EventCreateApi.as_view(), name="events"),
    path("orders", OrderCreateApi.as_view(), name="orders"),
    path("orders/simulate", OrderSimulateApi.as_view(), name="order-simulate"),
    path("orders/batch", OrderBatchApi.as_view(), name="order-batch"),
    # `path`: a shop's order id may contain slashes (sent as %2F).
    path("orders/<path:external_id>/refunds", OrderRefundApi.as_view(), name="order-refunds"),
    path("orders/<path:external_id>/cancel", OrderCancelApi.as_view(), name="order-cancel"),
    # The rewards catalogue, redemptions and coupons: integrations/apis/rewards.py lists its own paths.
    *rewards_apis.urlpatterns,
]
