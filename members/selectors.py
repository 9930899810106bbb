"""Reads for member pages: a member sees only their own data, so every read starts from the member."""

from django.http import Http404

from members.models import Member
from rewards.models import PointEntry


def member_for_user(user) -> Member | None:
    """The signed-in user's open membership with its points account, or None (a staff login without a
    membership, or a closed account)."""
    if not getattr(user, "is_authenticated", False):
        return None
    member = (
        Member.objects.select_related("points_account", "user")
        .filter(user=user)
        .exclude(status=Member.Status.CLOSED)
        .first()
    )
    return member


def member_entry_get(*, member: Member, entry_id) -> PointEntry:
    """One of the member's own ledger entries with the lots it touched; another member's is a 404."""
    try:
        return (
            PointEntry.objects.prefetch_related("movements__lot").filter(account__member=member).get(public_id=entry_id)
        )
    except PointEntry.DoesNotExist:
        raise Http404("No such entry.") from None
