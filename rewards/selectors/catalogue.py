"""Reads of the rewards catalogue, redemptions, coupons and store credit."""
