"""IFRS 15 arithmetic for customer loyalty points, as pure functions (no database, no settings).

The standard's method (IFRS 15 paragraphs B39-B43 and Illustrative Example 52):
- A sale that awards points is two performance obligations: the goods and the material right (the points).
  The price is allocated between them by their relative stand-alone selling prices; the points' stand-alone
  selling price reflects the likelihood of redemption: points x face value x expected redemption rate.
- The part allocated to the points is a contract liability. It becomes revenue as points are redeemed, in
  proportion to the points expected to be redeemed: cumulative revenue = allocated x redeemed so far /
  expected redemptions, so breakage is recognised with the redemptions, not when points expire.
- A change of the expected redemptions is a change of estimate: the cumulative figure is recomputed and the
  difference (the catch-up) is this period's revenue. The allocation made at the sale is never redone.
- What is left of the liability when the points lapse (expiry, the program ends) is released.
"""

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def _round(amount: Decimal, places: Decimal) -> Decimal:
    return amount.quantize(places, rounding=ROUND_HALF_UP)


def points_ssp(*, points: int, face_value: Decimal, expected_rate: Decimal) -> Decimal:
    """Stand-alone selling price of `points`: their face value weighted by the likelihood of redemption."""
    return Decimal(points) * face_value * expected_rate


def allocate(
    *, price: Decimal, goods_ssp: Decimal, points_ssp: Decimal, places: Decimal = CENT
) -> tuple[Decimal, Decimal]:
    """Split `price` between the goods and the points by their relative stand-alone selling prices: returns
    (goods, points), rounded to `places`, adding up to `price` exactly."""
    total = goods_ssp + points_ssp
    if price <= 0 or points_ssp <= 0 or total <= 0:
        return price, Decimal(0).quantize(places)
    to_points = _round(price * points_ssp / total, places)
    return price - to_points, to_points


def revenue_cumulative(*, allocated: Decimal, redeemed: int, expected: Decimal, places: Decimal = CENT) -> Decimal:
    """Revenue recognised so far on `allocated` when `redeemed` of the `expected` redemptions happened;
    never more than `allocated`."""
    if expected <= 0 or redeemed >= expected:
        return allocated
    return min(allocated, _round(allocated * Decimal(redeemed) / expected, places))


def revenue_for_period(
    *, allocated: Decimal, redeemed: int, expected: Decimal, recognised_before: Decimal, places: Decimal = CENT
) -> Decimal:
    """This period's revenue: the cumulative figure under the current estimate minus what earlier periods
    recognised (negative when the estimate rose enough: a cumulative catch-up works both ways)."""
    return revenue_cumulative(allocated=allocated, redeemed=redeemed, expected=expected, places=places) - (
        recognised_before
    )


def release_on_lapse(*, allocated: Decimal, recognised: Decimal) -> Decimal:
    """What the liability still holds when the points lapse (expiry, program end): all of it is released."""
    return allocated - recognised


def share(amount: Decimal, *, part: int, whole: int, places: Decimal = CENT) -> Decimal:
    """`part`/`whole` of `amount`, rounded; all of it when part >= whole (no cent is ever left behind)."""
    if whole <= 0 or part >= whole:
        return amount
    return _round(amount * Decimal(part) / Decimal(whole), places)
