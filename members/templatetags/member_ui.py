"""Template filters for showing points to members."""

import datetime as dt
import zoneinfo

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils import timezone

register = template.Library()

MINUS = "\u2212"  # a real minus sign: the same width as the plus, and read out as "minus"


@register.filter
def signed_points(value) -> str:
    """A change of points with its sign and thousands grouped: +1,200, −300, 0."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return ""
    grouped = intcomma(abs(number))
    if number > 0:
        return f"+{grouped}"
    if number < 0:
        return f"{MINUS}{grouped}"
    return "0"


@register.filter
def use_by(value: dt.datetime | None) -> dt.date | None:
    """The last day on which points that expire at `value` can still be used, in the current time zone.

    Expiry instants are usually a midnight ("start of next year"), so the last usable day is the one
    before it; for any other time of day it is that same day."""
    if value is None:
        return None
    return timezone.localtime(value - dt.timedelta(microseconds=1)).date()


@register.filter
def zone(name: str):
    """The time zone called `name`, or UTC when the name is empty or unknown (a typo in the admin must
    not break every page)."""
    try:
        return zoneinfo.ZoneInfo(name) if name else dt.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC
