"""Python client of the loyalty platform for shop back-ends.

from loyalty_client import LoyaltyClient, shopper_token, webhook_verify
"""

from loyalty_client.client import CartLine, LoyaltyClient, Order, OrderLine, RefundLine
from loyalty_client.errors import (
    AuthError,
    BusinessRuleError,
    Conflict,
    LoyaltyError,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    ValidationError,
)
from loyalty_client.models import (
    BatchItem,
    BatchResult,
    Coupon,
    CouponValidation,
    Discount,
    EventResult,
    LedgerEntry,
    Member,
    OrderResult,
    Page,
    Points,
    Redemption,
    Refund,
    Reward,
    StoreCreditSpend,
)
from loyalty_client.tokens import shopper_token
from loyalty_client.webhooks import WebhookVerificationError, webhook_verify

__version__ = "0.1.0"
__all__ = [
    "AuthError",
    "BatchItem",
    "BatchResult",
    "BusinessRuleError",
    "CartLine",
    "Conflict",
    "Coupon",
    "CouponValidation",
    "Discount",
    "EventResult",
    "LedgerEntry",
    "LoyaltyClient",
    "LoyaltyError",
    "Member",
    "NotFound",
    "Order",
    "OrderLine",
    "OrderResult",
    "Page",
    "Points",
    "RateLimited",
    "Redemption",
    "Refund",
    "RefundLine",
    "Reward",
    "ServerError",
    "StoreCreditSpend",
    "TransportError",
    "ValidationError",
    "WebhookVerificationError",
    "shopper_token",
    "webhook_verify",
]
