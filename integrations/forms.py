"""Forms of the staff side: shops (origins one per line) and the "Create API key" action."""

import datetime as dt
import uuid

from django import forms
from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from integrations.models import SCOPE_LABELS, SCOPES, Shop


class OriginsField(forms.CharField):
    """A JSON list of origins, edited as one origin per line."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [line.strip().rstrip("/") for line in text.splitlines() if line.strip()]


class ShopAdminForm(forms.ModelForm):
    allowed_origins = OriginsField(
        required=False,
        label=_("Allowed origins"),
        help_text=_("One per line, e.g. https://shop.example.com. The storefront widget answers only these."),
    )

    class Meta:
        model = Shop
        fields = ["name", "kind", "currency", "time_zone", "allowed_origins", "active"]

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()

    def clean_time_zone(self) -> str:
        return self.cleaned_data["time_zone"].strip()


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What the key is for, e.g. 'Checkout server'."))
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"),
        choices=[(scope, SCOPE_LABELS[scope]) for scope in SCOPES],
        initial=["read", "write"],
        widget=forms.CheckboxSelectMultiple,
    )
    token = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("token", uuid.uuid4())
        super().__init__(*args, **kwargs)

    def claim(self) -> bool:
        """True the first time this page is submitted; False when it is posted again (a browser reload),
        so a reload cannot make a second key nobody has seen. Remembered in the shared cache for a day."""
        return cache.add(f"api-key-create-form:{self.cleaned_data['token']}", 1, timeout=86400)


class ApiKeyRotateForm(forms.Form):
    GRACE_CHOICES = [
        ("0", _("Immediately (the key may have leaked)")),
        ("3600", _("In 1 hour")),
        ("86400", _("In 24 hours (time to deploy the new key)")),
        ("604800", _("In 7 days")),
    ]
    grace = forms.TypedChoiceField(
        label=_("The old key stops working"),
        choices=GRACE_CHOICES,
        initial="0",
        coerce=lambda seconds: dt.timedelta(seconds=int(seconds)),
        widget=forms.RadioSelect,
    )
