"""Campaigns (time-boxed earning boosts) and segments (groups of members they and rewards can target)."""

from django.db import models

from core.models import BaseModel

__all__ = ["Segment"]


class Segment(BaseModel):
    """A group of members, defined by rules over their data or by a list of member numbers."""

    name = models.CharField(max_length=120, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
