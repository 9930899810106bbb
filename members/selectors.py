"""Reads for member pages: a member sees only their own data, so every read starts from the member."""

from django.http import Http404

from members.models import Member
from rewards.models import PointEntry


def member_for_user(user) -> Member:
    """The signed-in user's member, or 404 (staff users without a membership, closed accounts)."""
    try:
        member = Member.objects.select_related("points_account", "user").get(user=user)
    except Member.DoesNotExist:
        raise Http404("No membership for this login.") from None
    if member.status == Member.Status.CLOSED:
        raise Http404("This membership is closed.")
    return member


def member_entry_get(*, member: Member, entry_id) -> PointEntry:
    """One of the member's own ledger entries with the lots it touched; another member's is a 404."""
    try:
        return (
            PointEntry.objects.select_related("account")
            .prefetch_related("movements__lot")
            .get(public_id=entry_id, account__member=member)
        )
    except PointEntry.DoesNotExist:
        raise Http404("No such entry.") from None
