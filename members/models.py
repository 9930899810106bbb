from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra):
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A login: e-mail and password. Shoppers also have a Member; staff users may not."""

    email = models.EmailField(_("email address"), unique=True)
    is_staff = models.BooleanField(_("staff"), default=False, help_text=_("Can log into the admin site."))
    is_active = models.BooleanField(
        _("active"), default=True, help_text=_("Can log in. Closed memberships are made inactive.")
    )
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.email


class Member(BaseModel):
    """A shopper in the program. Closing an account anonymises it; the ledger stays."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="member")
    number = models.CharField(
        max_length=16,
        unique=True,
        help_text=_("Printable member number with a Luhn check digit; usable as a card number."),
    )
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    birthday = models.DateField(null=True, blank=True)
    marketing_consent = models.BooleanField(default=False)
    marketing_consent_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When consent was last given or withdrawn.")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    joined_via = models.CharField(
        max_length=64, default="web", help_text=_("The shop or channel the member joined through.")
    )
    joined_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["active", "suspended", "closed"]), name="member_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.full_name or self.user.email} ({self.number_display})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def number_display(self) -> str:
        """The member number in groups of four, as printed on a card."""
        return " ".join(self.number[i : i + 4] for i in range(0, len(self.number), 4))
