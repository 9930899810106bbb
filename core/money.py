"""Money is Decimal with an ISO 4217 currency; points are integers. Rounding is always explicit."""

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

ROUNDING_MODES = {"down": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "up": ROUND_CEILING}
MONEY_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.amount.quantize(MONEY_PLACES)} {self.currency}"


def points_round(value: Decimal, *, rounding: str) -> int:
    """Turn a computed (fractional) number of points into whole points with the program's rounding."""
    return int(value.quantize(Decimal(1), rounding=ROUNDING_MODES[rounding]))


def money_round(amount: Decimal) -> Decimal:
    return amount.quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)
