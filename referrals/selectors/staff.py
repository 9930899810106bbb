"""Reads for staff: the review queue, referral stats and the preview of a change of the rules (filled in by
the admin's work)."""
