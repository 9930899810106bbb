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


def _referral_program_read() -> ReferralProgram:
    # Read only: the order intake never writes the settings row (an unsaved default is inactive).
    return ReferralProgram.objects.filter(pk=1).first() or ReferralProgram(pk=1)


def referral_program_cached() -> ReferralProgram:
    """The settings as this process last read them, never created here: for the order intake. Never change it."""
    return _rules.get("rules", _referral_program_read)
