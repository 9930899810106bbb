"""Periodic and queued jobs of the referral program. Each takes ids and is safe to retry."""

from celery import shared_task

from referrals import services


@shared_task
def referral_rewards_release() -> int:
    """Grant the referral rewards whose return window has passed (beat, every 10 minutes)."""
    return services.referral_rewards_release()


@shared_task
def referral_invite_email(*, member_id: int, to: str) -> None:
    """The fixed invitation e-mail from one member to one address."""
    from referrals.emails import invite_send

    invite_send(member_id=member_id, to=to)
