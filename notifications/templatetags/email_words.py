"""Filters for the member emails: points and money written as the member pages write them (members.words)."""

from django import template

from members import words

register = template.Library()


@register.filter
def points(value) -> str:
    return words.points(int(value or 0))


@register.filter
def money(amount, currency: str = "") -> str:
    if amount in (None, ""):
        return ""
    return words.money(amount, currency)
