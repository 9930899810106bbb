import uuid

from django.db import models


class BaseModel(models.Model):
    """Integer pk for joins inside the database; `public_id` is the only id that leaves it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        abstract = True
