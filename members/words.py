"""Plain words for the member pages: what a reward or coupon gives, what an earning rule or event rule pays,
what a tier asks and gives. Pure functions over model rows (no queries), so the pages and their tests agree.

Money is shown as "EUR 1,234.50": the currency code first, like the rest of the member pages.
"""

from decimal import Decimal

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from members.templatetags.member_ui import use_by
from rewards.models import Coupon, EarningRule, EventRule, Reward, Tier

_FACTOR_WORDS = {
    Decimal(2): gettext_lazy("Double"),
    Decimal(3): gettext_lazy("Triple"),
    Decimal(4): gettext_lazy("Quadruple"),
}
_TIMES = {
    "day": gettext_lazy("a day"),
    "week": gettext_lazy("a week"),
    "month": gettext_lazy("a month"),
    "year": gettext_lazy("a year"),
}
_EVENTS = {
    EventRule.Event.SIGN_UP: gettext_lazy("for joining"),
    EventRule.Event.FIRST_PURCHASE: gettext_lazy("for your first purchase"),
    EventRule.Event.BIRTHDAY: gettext_lazy("on your birthday"),
    EventRule.Event.NEWSLETTER_SIGNUP: gettext_lazy("for signing up to the newsletter"),
    EventRule.Event.REVIEW_WRITTEN: gettext_lazy("for a review"),
    EventRule.Event.SOCIAL_FOLLOW: gettext_lazy("for following us on social media"),
    EventRule.Event.SOCIAL_SHARE: gettext_lazy("for sharing on social media"),
}


def number(value) -> str:
    """1234 -> "1,234"; 1.5000 -> "1.5"; 2.00 -> "2"."""
    value = Decimal(value)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value.normalize():,f}"


def money(amount, currency: str) -> str:
    """Decimal("1234.5"), "EUR" -> "EUR 1,234.50"."""
    return f"{currency} {Decimal(amount):,.2f}".strip()


def points(value: int) -> str:
    return ngettext("%(n)s point", "%(n)s points", int(value)) % {"n": number(value)}


SHOWN_NAMES = 3


def _products(categories, skus) -> str:
    """The categories and SKUs a rule names, at most three of them ("gift card, gift cards, gift-card and 5
    more": spellings of one category are common)."""
    names = [str(n).strip() for n in (*(categories or ()), *(skus or ())) if str(n).strip()]
    if len(names) <= SHOWN_NAMES:
        return ", ".join(names)
    rest = len(names) - SHOWN_NAMES
    return _("%(names)s and %(n)s more") % {"names": ", ".join(names[:SHOWN_NAMES]), "n": rest}


def _factor_points(factor) -> str:
    """A multiplier as a member reads it: 2 -> "Double points", 1.5 -> "1.5× points"."""
    factor = Decimal(factor).normalize()
    words = _FACTOR_WORDS.get(factor)
    return _("%(factor)s points") % {"factor": words} if words else _("%(factor)s× points") % {"factor": number(factor)}


def last_day(value) -> str:
    """The last day before the instant `value` (an exclusive end, usually a midnight), in the current time zone:
    "31 December 2026" for the start of 2027."""
    return formats.date_format(use_by(value), "j F Y")


# --- rewards and coupons ------------------------------------------------------------------------------


def _discount(*, kind: str, value, max_discount, currency: str, sku: str) -> str:
    match kind:
        case Reward.Kind.FIXED_AMOUNT | Reward.Kind.PAY_WITH_POINTS:
            return _("%(amount)s off your order") % {"amount": money(value or 0, currency)}
        case Reward.Kind.PERCENTAGE:
            text = _("%(percent)s%% off your order") % {"percent": number(value or 0)}
            if max_discount is not None:
                text += " " + _("(at most %(amount)s)") % {"amount": money(max_discount, currency)}
            return text
        case Reward.Kind.FREE_SHIPPING:
            return _("Free shipping on your order")
        case Reward.Kind.FREE_PRODUCT:
            return _("A free product (%(sku)s) when it is in your cart") % {"sku": sku}
        case Reward.Kind.STORE_CREDIT:
            return _("%(amount)s of store credit") % {"amount": money(value or 0, currency)}
        case Reward.Kind.DONATION:
            return _("A donation of your points to a good cause")
        case _:
            return _("A perk: no code needed, we will be in touch")


def reward_gives(reward: Reward, *, currency: str) -> str:
    """What redeeming the reward gives, in words ("EUR 5.00 off your order")."""
    currency = reward.currency or currency
    if reward.kind == Reward.Kind.PAY_WITH_POINTS:
        return _("%(per)s per %(amount)s off your order, from %(low)s to %(high)s") % {
            "per": points(reward.points_per_unit or 0),
            "amount": money(1, currency),
            "low": points(reward.min_points or 0),
            "high": points(reward.max_points or 0),
        }
    if reward.kind == Reward.Kind.DONATION and reward.cause_id:
        return _("A donation of %(points)s to %(cause)s") % {"points": points(reward.points), "cause": reward.cause}
    return _discount(
        kind=reward.kind, value=reward.value, max_discount=reward.max_discount, currency=currency, sku=reward.sku
    )


def coupon_gives(coupon: Coupon) -> str:
    """What the coupon is worth, with its minimum order ("EUR 5.00 off your order of EUR 20.00 or more")."""
    text = _discount(
        kind=coupon.kind, value=coupon.value, max_discount=coupon.max_discount, currency=coupon.currency, sku=coupon.sku
    )
    if coupon.min_order:
        text += ", " + _("on an order of %(amount)s or more") % {"amount": money(coupon.min_order, coupon.currency)}
    return text


def pay_with_points_value(reward: Reward, chosen: int) -> Decimal:
    """What `chosen` points are worth off an order: rounded down to the cent, as the redemption does."""
    return (Decimal(chosen) / Decimal(reward.points_per_unit or 1)).quantize(Decimal("0.01"), rounding="ROUND_DOWN")


# --- earning -----------------------------------------------------------------------------------------------


def _until(ends_at) -> str:
    return " " + _("until %(date)s") % {"date": last_day(ends_at)} if ends_at else ""


def earning_rule_words(rule: EarningRule) -> str:
    """An earning rule as a member reads it: "1 point per EUR 1.00 spent", "Double points on books"."""
    what = _products(rule.categories, rule.skus)
    match rule.kind:
        case EarningRule.Kind.BASE_RATE:
            text = _("%(points)s per %(amount)s spent") % {
                "points": points(rule.points) if rule.points == int(rule.points) else f"{number(rule.points)} points",
                "amount": money(rule.amount, rule.currency),
            }
            if what:
                text += " " + _("on %(what)s") % {"what": what}
        case EarningRule.Kind.MULTIPLIER:
            text = (
                _factor_points(rule.multiplier)
                + " "
                + (_("on %(what)s") % {"what": what} if what else _("on everything"))
            )
        case EarningRule.Kind.FIXED:
            text = _("%(points)s for each %(what)s you buy") % {"points": points(rule.points), "what": what}
        case _:
            text = _("No points on %(what)s") % {"what": what}
    if rule.minimum_order_value and rule.kind != EarningRule.Kind.EXCLUSION:
        text += ", " + _("on orders of %(amount)s or more") % {"amount": money(rule.minimum_order_value, rule.currency)}
    return text + _until(rule.ends_at)


def _how_often(count: int | None, period: str) -> str:
    if count is None:
        return ""
    if period == "ever":
        return _("once") if count == 1 else _("up to %(n)s times") % {"n": count}
    every = _TIMES.get(period, period)
    if count == 1:
        return _("once %(every)s") % {"every": every}
    return _("up to %(n)s times %(every)s") % {"n": count, "every": every}


def event_rule_words(rule: EventRule) -> str:
    """An event rule as a member reads it: "50 points for a review, once a month"."""
    doing = _EVENTS.get(rule.event) or _("for this: %(event)s") % {"event": rule.event.replace("_", " ")}
    text = f"{points(rule.points)} {doing}"
    if often := _how_often(rule.limit_count, rule.limit_period):
        text += f", {often}"
    return text + _until(rule.ends_at)


# --- tiers ---------------------------------------------------------------------------------------------------

_WINDOWS = {
    Tier.Window.LIFETIME: gettext_lazy("in total"),
    Tier.Window.CALENDAR_YEAR: gettext_lazy("in a calendar year"),
    Tier.Window.ROLLING_12_MONTHS: gettext_lazy("in the last 12 months"),
    Tier.Window.MEMBERSHIP_YEAR: gettext_lazy("in a membership year"),
}


def metric_amount(value, *, metric: str, currency: str) -> str:
    """An amount of a tier's metric: "1,200 points", "EUR 150.00", "3 orders"."""
    if metric == Tier.Metric.SPEND:
        return money(value, currency)
    if metric == Tier.Metric.ORDERS:
        return ngettext("%(n)s order", "%(n)s orders", int(value)) % {"n": number(value)}
    return points(int(value))


def metric_needed(value, *, metric: str, currency: str) -> str:
    """What is still missing: "120 more points earned on orders", "EUR 150.00 more spent", "2 more orders"."""
    if metric == Tier.Metric.SPEND:
        return _("%(amount)s more spent") % {"amount": money(value, currency)}
    if metric == Tier.Metric.ORDERS:
        return ngettext("%(n)s more order", "%(n)s more orders", int(value)) % {"n": number(value)}
    return ngettext("%(n)s more point earned on orders", "%(n)s more points earned on orders", int(value)) % {
        "n": number(value)
    }


def window_words(window: str) -> str:
    return _WINDOWS.get(window, "")


def tier_entry_words(tier: Tier, *, currency: str) -> str:
    """How to reach the tier: "Spend EUR 500.00 in a calendar year"; the lowest tier: "Where everyone starts"."""
    if not tier.entry_threshold:
        return _("Where everyone starts")
    amount = metric_amount(tier.entry_threshold, metric=tier.metric, currency=currency)
    verb = {
        Tier.Metric.SPEND: _("Spend %(amount)s"),
        Tier.Metric.ORDERS: _("Place %(amount)s"),
    }.get(tier.metric, _("Earn %(amount)s on orders"))
    return f"{verb % {'amount': amount}} {window_words(tier.window)}"


def perks_words(perks) -> list[str]:
    """A tier's perks (rewards.selectors.tiers.TierPerks) as a list of short sentences."""
    found = []
    if perks is None:
        return found
    if perks.earning_multiplier != 1:
        found.append(_("%(points)s on every order") % {"points": _factor_points(perks.earning_multiplier)})
    if perks.birthday_bonus_points:
        found.append(_("%(points)s on your birthday") % {"points": points(perks.birthday_bonus_points)})
    if perks.free_shipping:
        found.append(_("Free shipping"))
    if perks.early_access:
        found.append(_("Early access to sales and new products"))
    if perks.can_gift:
        found.append(_("Give a lower tier to a friend once a year"))
    return found


def refusal_words(refusal) -> str:
    """Why a member cannot redeem a reward now (a rewards.selectors.catalogue.Refusal, or the ApplicationError
    the redemption raised), for a member to read."""
    details = getattr(refusal, "details", None) or getattr(refusal, "extra", None) or {}
    match refusal.code:
        case "insufficient_points":
            return ngettext(
                "You need %(n)s more point", "You need %(n)s more points", int(details.get("short_by", 0))
            ) % {"n": number(details.get("short_by", 0))}
        case "out_of_stock":
            return _("Out of stock")
        case "limit_reached":
            return _("You have redeemed this as often as it allows for now")
        case "not_eligible" if details.get("reason") == "tier":
            return _("For %(tier)s members and above") % {"tier": details.get("tier", "")}
        case "reward_inactive":
            return _("Not available yet")
        case "member_not_active":
            return _("Your account cannot redeem rewards at the moment: please contact us")
        case _:
            return refusal.message


def redeem_error_words(error) -> str:
    """A refused redemption (core.exceptions.ApplicationError from reward_redeem) in a member's words."""
    match error.code:
        case "insufficient_points":
            return _("You do not have enough points for this reward.")
        case "idempotency_conflict" | "validation_error":
            return _("This confirmation has expired. Please check the details and confirm again.")
        case "invalid_points":
            return error.message
        case _:
            return refusal_words(error) + "."
