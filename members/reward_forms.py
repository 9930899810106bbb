"""The redemption confirmation form: the idempotency key minted when the page was shown, and for
pay-with-points rewards the points the member chooses."""

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from rewards.models import PointsAccount, Reward


def redemption_key_new() -> str:
    """A fresh key for one confirmation page: the same page submitted twice redeems once."""
    return uuid.uuid4().hex


class RedeemForm(forms.Form):
    key = forms.CharField(max_length=128, widget=forms.HiddenInput)
    points = forms.IntegerField(
        label=_("Points to pay with"), required=False, widget=forms.NumberInput(attrs={"inputmode": "numeric"})
    )

    def __init__(self, *args, reward: Reward, account: PointsAccount, **kwargs):
        super().__init__(*args, **kwargs)
        self.reward = reward
        if reward.kind == Reward.Kind.PAY_WITH_POINTS:
            field = self.fields["points"]
            field.required = True
            # Set after the field was built, so Django adds no validators of its own: clean_points checks the
            # range once, in plain words. At most what the member has (the service checks that again).
            field.min_value = reward.min_points
            field.max_value = max(reward.min_points, min(reward.max_points, account.available))
            field.widget.attrs.update({"min": field.min_value, "max": field.max_value, "step": 1})
            self.initial.setdefault("points", field.min_value)
        else:
            del self.fields["points"]

    def clean_points(self):
        chosen = self.cleaned_data.get("points")
        field = self.fields["points"]
        if chosen is not None and not field.min_value <= chosen <= field.max_value:
            raise forms.ValidationError(
                _("Choose from %(low)s to %(high)s points.") % {"low": field.min_value, "high": field.max_value}
            )
        return chosen
