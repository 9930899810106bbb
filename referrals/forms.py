"""The member's invitation form: one address, nothing else (the e-mail's text is fixed)."""

from django import forms
from django.utils.translation import gettext_lazy as _


class InviteForm(forms.Form):
    email = forms.EmailField(
        label=_("Your friend's e-mail address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off", "inputmode": "email"}),
        help_text=_("One address at a time. We send them a short invitation with your link, and nothing else."),
    )
