import datetime as dt

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from members.models import Member

OLDEST_BIRTH_YEAR = 1900


def _birthday_field() -> forms.DateField:
    return forms.DateField(
        label=_("Birthday"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
        help_text=_("For a birthday treat. We never show it to anyone."),
    )


def _clean_birthday(value: dt.date | None) -> dt.date | None:
    if value is None:
        return None
    if value > timezone.localdate():
        raise forms.ValidationError(_("A birthday cannot be in the future."))
    if value.year < OLDEST_BIRTH_YEAR:
        raise forms.ValidationError(_("Please check the year."))
    return value


class SignupForm(AllauthSignupForm):
    """allauth's sign-up with the member's names, birthday and marketing consent.

    The first name is required (the pages greet the member by it); the last name may be left out for
    people with a single name. The adapter hands these fields to members.services.member_signup."""

    field_order = ["first_name", "last_name", "email", "password1", "password2", "birthday", "marketing_consent"]

    first_name = forms.CharField(
        label=_("First name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    birthday = _birthday_field()
    marketing_consent = forms.BooleanField(
        label=_("Send me offers and news by e-mail"),
        required=False,
        help_text=_("You can change your mind at any time on your preferences page."),
    )

    def clean_birthday(self):
        return _clean_birthday(self.cleaned_data.get("birthday"))


class ProfileForm(forms.ModelForm):
    first_name = forms.CharField(
        label=_("First name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        label=_("Last name"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    birthday = _birthday_field()

    class Meta:
        model = Member
        fields = ["first_name", "last_name", "birthday"]

    def clean_birthday(self):
        return _clean_birthday(self.cleaned_data.get("birthday"))


class PreferencesForm(forms.Form):
    marketing_consent = forms.BooleanField(
        label=_("Send me offers and news by e-mail"),
        required=False,
        help_text=_("You can change your mind here at any time."),
    )


class CloseAccountForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=_("To make sure it is you."),
    )
    confirm = forms.BooleanField(
        label=_("I understand that my points will be forfeited and that this cannot be undone."),
        error_messages={"required": _("Please tick the box to confirm.")},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("That password is not right."))
        return password
