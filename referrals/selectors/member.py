"""Reads for a member's referral page (filled in by the member pages' work)."""
