"""Reads of the referral program: its settings, a member's referral page, the staff's stats and the
preview of a change of the rules."""

from django.db.models.signals import post_save

from core.process_cache import ProcessCache
from referrals.models import ReferralProgram


def referral_program_get() -> ReferralProgram:
    """The referral program's settings; the row is created with defaults (inactive) on first use."""
    rules, _ = ReferralProgram.objects.get_or_create(pk=1)
    return rules


# Every order of a member reads this (the qualifying hook); a change applies within CONFIG_CACHE_SECONDS.
_rules = ProcessCache("referral_program")
post_save.connect(_rules.invalidate, sender=ReferralProgram, dispatch_uid="referral_program_cache_save")


def referral_program_cached() -> ReferralProgram:
    """referral_program_get() as this process last read it: for the order intake. Never change it."""
    return _rules.get("rules", referral_program_get)
