"""What tiers and campaigns add to an order's points: the seam between the order intake and them.

The intake (integrations.services.orders, orders_batch, the simulate endpoint) does, for every order:
1. `boosts_load()` once per request or batch: the tiers and campaigns in force (cached like the rules);
2. `order_boosts(...)` per order: the extra rules and multipliers for evaluate_order, read from that
   config and the member's account (no query);
3. `order_earned(...)` inside the order's transaction, after its points are in the ledger (single orders),
   or `orders_earned(...)` once for a batch: a tier moves up, a campaign's budget is used.

Tiers fill their part in rewards.services.tiers, campaigns theirs in rewards.services.campaigns; referrals
take part in step 3 only (a referred friend's order may qualify the referral: referrals.services).
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from rewards.services import campaigns, tiers
from rewards.services.earning import Multiplier, OrderInput


@dataclass(frozen=True)
class BoostsConfig:
    tiers: object
    campaigns: object


@dataclass(frozen=True)
class Boosts:
    rules: tuple = ()  # rule-like objects evaluate_order applies after the earning rules' own
    multipliers: tuple[Multiplier, ...] = ()


_NONE = Boosts()


@dataclass(frozen=True)
class Earned:
    """One order whose points are now in the ledger, for order_earned/orders_earned."""

    member: object  # members.models.Member, with points_account loaded
    order: object  # integrations.models.Order
    breakdown: dict  # the order's stored breakdown (Breakdown.as_dict())


def boosts_load() -> BoostsConfig:
    return BoostsConfig(tiers=tiers.tier_boosts_config(), campaigns=campaigns.campaign_boosts_config())


def order_boosts(config: BoostsConfig, *, account, order: OrderInput, at: dt.datetime, shop_id: str | None) -> Boosts:
    """The extra rules and multipliers for one order of the member owning `account` (None: no member)."""
    tier_multipliers = tiers.tier_multipliers(config.tiers, account=account, at=at)
    rules, campaign_multipliers = campaigns.campaign_boosts(
        config.campaigns, account=account, order=order, at=at, shop_id=shop_id
    )
    if not (tier_multipliers or rules or campaign_multipliers):
        return _NONE  # most orders: no tier multiplier, no campaign
    return Boosts(rules=tuple(rules), multipliers=(*tier_multipliers, *campaign_multipliers))


def order_earned(earned: Earned) -> None:
    orders_earned([earned])


def orders_earned(earned: Sequence[Earned]) -> None:
    """Inside the orders' transaction: what follows from points earned (set-based for a batch)."""
    if not earned:
        return
    campaigns.campaigns_orders_earned(earned)
    tiers.tiers_orders_earned(earned)
    # A referred friend's order may qualify their referral. Imported here: referrals builds on rewards.
    from referrals.services import referrals_orders_earned

    referrals_orders_earned(earned)
