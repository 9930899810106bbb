"""Program recipes: complete example programs that `manage.py program_load NAME` sets up.

Each recipe is one module of this package holding a `RECIPE`: plain data, no code. Its docstring says what
the recipe models, which kind of well-known program it is modelled on, and what the platform cannot model
yet. rewards.services.recipes loads one (docs/recipes.md).

A recipe names its parts the way staff see them in the admin: rules, tiers, campaigns and segments by name,
rewards by title, causes and shops by name. The loader uses these names to find what an earlier load made,
so loading twice gives the same program. Inside a recipe, the parts refer to each other by those names
(a reward's `min_tier`, a campaign's `segments`, a rule's `shops` by the key of a `ShopSpec`).

The dicts hold model fields (rewards.models) with a few extra keys the loader resolves:

- earning and event rules, campaigns: `shops`, a list of ShopSpec keys (empty or absent: every shop);
- rewards: `shops` (ShopSpec keys), `min_tier` (a tier's name), `cause` (a cause's name), `segments`;
- campaigns: `segments` (names), `days` (how long it runs from the day it is first loaded) and
  `starts_in_days` (0: from the local midnight of that day).
"""

from dataclasses import dataclass, field
from decimal import Decimal
from importlib import import_module

from core.exceptions import ApplicationError

__all__ = ["PAID_ONLY", "Recipe", "ShopSpec", "gift_cards_excluded", "recipe_get", "recipes_all"]

# Tiers have no "paid only" switch: a tier that only a membership SKU (or a gift) grants gets an entry
# threshold no member can reach. docs/recipes.md lists this among the gaps.
PAID_ONLY = Decimal("999999999999.00")


# The categories the installed "Gift cards never earn" rule names (rewards migration 0005).
GIFT_CARD_CATEGORIES = ["gift card", "gift cards", "gift-card", "gift-cards", "gift_card", "giftcard", "giftcards"]


def gift_cards_excluded(name: str = "Gift cards never earn") -> dict:
    """An exclusion rule for gift cards, as every program that sells them needs (they earn when spent)."""
    return {"name": name, "kind": "exclusion", "categories": list(GIFT_CARD_CATEGORIES), "priority": 100}


@dataclass(frozen=True)
class ShopSpec:
    key: str  # how the recipe's rules and rewards name this shop
    name: str  # the shop's name (unique): how the loader finds it again
    kind: str = "web"  # integrations.models.Shop.Kind


@dataclass(frozen=True)
class Recipe:
    name: str  # what program_load takes
    title: str  # the program's name
    summary: str  # one line for program_load --list
    program: dict  # Program settings; the ones left out get the field's default
    shops: tuple[ShopSpec, ...]
    earning_rules: tuple[dict, ...] = ()
    event_rules: tuple[dict, ...] = ()
    tiers: tuple[dict, ...] = ()
    segments: tuple[dict, ...] = ()
    campaigns: tuple[dict, ...] = ()
    causes: tuple[dict, ...] = ()
    rewards: tuple[dict, ...] = ()
    gaps: tuple[str, ...] = field(default=())  # what the recipe would have but the platform cannot do yet

    @property
    def description(self) -> str:
        """The recipe module's docstring: what it models and how."""
        module = import_module(f"{__name__}.{self.name}")
        return (module.__doc__ or "").strip()


# In the order program_load --list shows them.
NAMES = (
    "department_store",
    "coffee_chain",
    "beauty_retailer",
    "coop",
    "subscription_club",
    "fashion_brand",
    "family_of_brands",
    "airline_status",
)


def recipes_all() -> list[Recipe]:
    return [import_module(f"{__name__}.{name}").RECIPE for name in NAMES]


def recipe_get(name: str) -> Recipe:
    """The recipe called `name`; ApplicationError `unknown_recipe` (listing the names) for any other."""
    key = (name or "").strip().lower().replace("-", "_")
    if key not in NAMES:
        raise ApplicationError(
            f"There is no recipe called {name!r}. Recipes: {', '.join(NAMES)}.",
            code="unknown_recipe",
            extra={"recipes": list(NAMES)},
        )
    return import_module(f"{__name__}.{key}").RECIPE
