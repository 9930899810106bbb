"""The rewards catalogue, redemptions and their coupons, and store credit."""

__all__: list[str] = []
