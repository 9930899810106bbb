"""Segments: which members a segment holds, by its rules or its uploaded list."""

from django.db.models import QuerySet


def segment_members(segment) -> QuerySet:
    """The members in `segment` now (a queryset of members.Member, for counts and set-based use)."""
    from members.models import Member

    return Member.objects.none()


def member_segment_ids(*, member) -> set[int]:
    """The pks of the segments `member` is in now."""
    return set()
