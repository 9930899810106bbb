"""Tiers: the levels members climb, what qualifies for them, and each member's tier and its history."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel

__all__ = ["Tier"]


class Tier(BaseModel):
    """A level of the program; a higher `rank` is a better tier."""

    name = models.CharField(max_length=80, unique=True)
    rank = models.PositiveIntegerField(unique=True, help_text=_("Higher is better; the entry tier is usually 0."))

    class Meta:
        ordering = ["rank"]

    def __str__(self) -> str:
        return self.name
