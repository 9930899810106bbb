"""Fashion brand: points per unit spent, points for bringing a friend and for following the brand, and
points spent as a discount at checkout up to a cap.

Modelled on the programs of fashion and footwear brands: customers earn on what they buy, earn more by
engaging (following the brand on social media, signing up for the newsletter, referring friends) and
spend points as money off their next order, with a limit on how much of an order points may pay.

- Program: EUR, Europe/Amsterdam; points pending 30 days (the return window), expiring 12 months after
  the member's last activity; 100 points for joining.
- Earning: 1 point per 1.00 (after discounts, without tax or shipping); gift cards earn nothing.
- Events: `social_follow` 50 points, once ever; `newsletter_signup` 100 points, once ever; `referral`
  250 points when the shop reports that a friend the member brought made a first order (at most 10 a
  year); `review_written` 20 points, once a day.
- Rewards: pay with points at checkout, 20 points = 1.00 off, from 100 points (5.00) up to 1,000 points
  (50.00) per order: the cap; 15% off (up to 30.00 off) for 600 points.
- Shop: "Fashion - Online store".
"""

from decimal import Decimal as D

from rewards.recipes import Recipe, ShopSpec, gift_cards_excluded

RECIPE = Recipe(
    name="fashion_brand",
    title="Fashion brand club",
    summary="Points per 1.00, for referrals and social follows; points off at checkout up to 50.00 (EUR).",
    program={
        "currency": "EUR",
        "time_zone": "Europe/Amsterdam",
        "pending_days": 30,
        "expiry_policy": "inactivity",
        "expiry_period": 12,
        "signup_bonus": 100,
    },
    shops=(ShopSpec("online", "Fashion - Online store", "web"),),
    earning_rules=(
        {"name": "1 point per 1.00", "kind": "base_rate", "points": D(1), "amount": D(1)},
        gift_cards_excluded(),
    ),
    event_rules=(
        {
            "name": "Follow us: 50 points",
            "event": "social_follow",
            "points": 50,
            "limit_count": 1,
            "limit_period": "ever",
        },
        {
            "name": "Newsletter: 100 points",
            "event": "newsletter_signup",
            "points": 100,
            "limit_count": 1,
            "limit_period": "ever",
        },
        {
            "name": "Bring a friend: 250 points",
            "event": "referral",
            "points": 250,
            "limit_count": 10,
            "limit_period": "year",
        },
        {"name": "Review: 20 points", "event": "review_written", "points": 20, "limit_count": 1, "limit_period": "day"},
    ),
    rewards=(
        {
            "title": "Pay with points",
            "kind": "pay_with_points",
            "points": 0,
            "points_per_unit": 20,
            "min_points": 100,
            "max_points": 1000,
            "coupon_valid_days": 1,
            "description": "20 points = 1.00 off, up to 50.00 off an order.",
        },
        {
            "title": "15% off (up to 30.00)",
            "kind": "percentage",
            "points": 600,
            "value": D(15),
            "max_discount": D(30),
            "coupon_valid_days": 60,
        },
    ),
    gaps=(
        "The `referral` event is for shops that track referrals themselves; the built-in referral program "
        "(links, a reward for the friend, fraud checks) is set up apart, in the admin (docs/referrals.md).",
        "Social follows cannot be verified by the platform: the shop reports them.",
    ),
)
