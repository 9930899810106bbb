"""Reads of tiers and members' tier history."""
