"""Rewards for shops at checkout: the catalogue for a member, redemptions on a member's behalf, coupons."""

urlpatterns: list = []
