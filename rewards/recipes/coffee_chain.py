"""Coffee chain: stars for every purchase, spent on free items at 25, 100 and 200 stars.

Modelled on the app-based programs of large coffee chains: customers collect "stars" (here: points) on
every purchase and trade them for items from a short menu of fixed levels: an extra shot or syrup, a
brewed coffee or pastry, a handcrafted drink. There are no tiers; a birthday treat and a welcome bonus
bring people back.

- Program: USD, America/Chicago; stars are available at once (nothing to return) and expire at the end
  of the month, six months after they were earned.
- Earning: 2 stars per 1.00 spent (tax not counted); loading a gift card earns nothing (stars come when
  the card is spent). 25 stars for joining (the sign-up bonus).
- Rewards, each a coupon for one free item (SKU), valid 30 days: 25 stars, an extra shot or syrup
  (ADD-ON); 100 stars, a brewed coffee or a bakery item (BREWED-OR-BAKERY); 200 stars, a handcrafted
  drink (HANDCRAFTED). The shop puts the free item in the cart and validates the code.
- Events: a birthday treat of 50 stars once a year (the platform sends `birthday`).
- Shops: "Coffee house - App" (the app and its mobile orders) and "Coffee house - Main street".
"""

from decimal import Decimal as D

from rewards.recipes import Recipe, ShopSpec, gift_cards_excluded

RECIPE = Recipe(
    name="coffee_chain",
    title="Coffee house stars",
    summary="2 stars per 1.00; free items at 25, 100 and 200 stars (USD, app and a store).",
    program={
        "currency": "USD",
        "time_zone": "America/Chicago",
        "pending_days": 0,
        "expiry_policy": "end_of_month",
        "expiry_period": 6,
        "signup_bonus": 25,
    },
    shops=(
        ShopSpec("app", "Coffee house - App", "app"),
        ShopSpec("store", "Coffee house - Main street", "store"),
    ),
    earning_rules=(
        {"name": "2 stars per 1.00", "kind": "base_rate", "points": D(2), "amount": D(1)},
        gift_cards_excluded("Gift card loads earn no stars"),
    ),
    event_rules=(
        {
            "name": "Birthday treat: 50 stars",
            "event": "birthday",
            "points": 50,
            "limit_count": 1,
            "limit_period": "year",
        },
    ),
    rewards=(
        {
            "title": "Extra shot or syrup",
            "kind": "free_product",
            "points": 25,
            "sku": "ADD-ON",
            "coupon_valid_days": 30,
            "position": 1,
        },
        {
            "title": "Brewed coffee or bakery item",
            "kind": "free_product",
            "points": 100,
            "sku": "BREWED-OR-BAKERY",
            "coupon_valid_days": 30,
            "position": 2,
        },
        {
            "title": "Handcrafted drink",
            "kind": "free_product",
            "points": 200,
            "sku": "HANDCRAFTED",
            "coupon_valid_days": 30,
            "position": 3,
        },
    ),
    gaps=(
        "A free item is one SKU per reward: a level offering a choice (coffee or pastry) needs the shop to "
        "map the SKU to the items it stands for.",
        "Stars for paying with the chain's own prepaid card (more stars per 1.00) would need the payment "
        "method on the order.",
    ),
)
