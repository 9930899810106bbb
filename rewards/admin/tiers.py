"""Admin screens for tiers and members' tier history."""
