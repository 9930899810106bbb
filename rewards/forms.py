"""Forms of the staff side (Django admin): program settings and the "Adjust points" action."""

import re
import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.utils.translation import gettext_lazy as _

from rewards.models import Program

# A sanity bound, not a business rule (the program's staff limit is): it keeps one typo from
# overflowing the ledger's integer columns.
ADJUST_MAX_POINTS = 100_000_000


class ProgramAdminForm(forms.ModelForm):
    class Meta:
        model = Program
        fields = [
            "name",
            "currency",
            "time_zone",
            "pending_days",
            "rounding",
            "signup_bonus",
            "expiry_policy",
            "expiry_period",
            "reversal_policy",
            "transfers_enabled",
            "staff_adjust_limit",
        ]

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise forms.ValidationError(_("Enter a three-letter ISO 4217 code, e.g. EUR."))
        return currency

    def clean_time_zone(self) -> str:
        name = self.cleaned_data["time_zone"].strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise forms.ValidationError(
                _("Unknown time zone %(name)s; use an IANA name such as Europe/Amsterdam."), params={"name": name}
            ) from None
        return name


class PointsAdjustForm(forms.Form):
    """The intermediate page of the "Adjust points" action.

    `token` is made once when the page is first shown and travels in a hidden field; each member's
    idempotency key is derived from it, so submitting the same page twice adjusts each member once.
    """

    points = forms.IntegerField(
        label=_("Points"),
        min_value=-ADJUST_MAX_POINTS,
        max_value=ADJUST_MAX_POINTS,
        help_text=_("Positive adds points, negative removes available points (soonest-expiring first)."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Required. Kept in the ledger with your name; the member sees it in their history."),
    )
    token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("token", uuid.uuid4())
        super().__init__(*args, **kwargs)

    def clean_points(self) -> int:
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Enter a number of points other than zero."))
        return points

    def idempotency_key(self, account) -> str:
        """This page's key for one account: the same on every submit of the page, new on every page."""
        return f"admin-adjust:{self.cleaned_data['token']}:{account.public_id}"
