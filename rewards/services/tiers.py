"""Tiers: qualification, moving up on an order, the nightly re-evaluation, staff overrides and history."""

import datetime as dt
from collections.abc import Sequence

from rewards.services.earning import Multiplier


def tier_boosts_config():
    """What order_boosts needs of the tiers, loaded once per request or batch."""
    return None


def tier_multipliers(config, *, account, at: dt.datetime) -> tuple[Multiplier, ...]:
    """The earning multiplier of the tier `account` holds at `at` (no query)."""
    return ()


def tiers_orders_earned(earned: Sequence) -> None:
    """Inside the orders' transaction: members whose orders qualify them move up at once."""
