"""Admin screens for the rewards catalogue, redemptions, coupons and store credit."""
