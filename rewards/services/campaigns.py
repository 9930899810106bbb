"""Campaigns: time-boxed boosts to earning, with budgets and per-member limits; and segments."""

import datetime as dt
from collections.abc import Sequence

from rewards.services.earning import Multiplier, OrderInput


def campaign_boosts_config():
    """The campaigns in force, loaded once per request or batch."""
    return None


def campaign_boosts(
    config, *, account, order: OrderInput, at: dt.datetime, shop_id: str | None
) -> tuple[tuple, tuple[Multiplier, ...]]:
    """The campaigns' extra rules and multipliers for one order (no query)."""
    return (), ()


def campaigns_orders_earned(earned: Sequence) -> None:
    """Inside the orders' transaction: use up the campaigns' budgets and per-member limits."""
