import datetime as dt

from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context as allauth_context
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

    field_order = [
        "first_name",
        "last_name",
        "email",
        "password1",
        "password2",
        "birthday",
        "marketing_consent",
        "referral_code",
    ]

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

    referral_code = forms.CharField(
        label=_("A friend's referral code"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
        help_text=_("Invited by a friend? Their code is filled in when you follow their link."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Referrals build on members: imported here, when the apps are ready.
        from referrals.selectors import referral_program_cached

        if not referral_program_cached().active:
            del self.fields["referral_code"]
        elif not self.is_bound:
            self.fields["referral_code"].initial = _referral_code_given(allauth_context.request)

    def clean_birthday(self):
        return _clean_birthday(self.cleaned_data.get("birthday"))

    def clean_referral_code(self) -> str:
        """A code typed (or left as the link filled it in) must be a member's; empty is fine. The adapter
        passes it to referrals.services.referral_join, where a typed code wins over the link's cookie."""
        from referrals.models import ReferralCode
        from referrals.services import code_clean

        code = code_clean(self.cleaned_data.get("referral_code"))
        if code and not ReferralCode.objects.filter(code=code).exists():
            raise forms.ValidationError(
                _("We do not know this referral code. Please check it with your friend, or leave it empty.")
            )
        return code


def _referral_code_given(request) -> str:
    """The code to fill in: the link's ?ref=, else the code of the live click in the attribution cookie."""
    from referrals.cookies import attribution_cookie
    from referrals.services import click_from_cookie, code_clean

    if request is None:
        return ""
    if code := code_clean(request.GET.get("ref")):
        return code
    click = click_from_cookie(attribution_cookie(request))
    return click.code if click is not None else ""


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
    # E-mail categories (notifications; docs/emails.md): account e-mails, such as reward codes, always come.
    email_activity = forms.BooleanField(label=_("E-mail me about my points, tier and referral rewards"), required=False)
    email_marketing = forms.BooleanField(
        label=_("E-mail me birthday wishes and reminders of expiring points"),
        required=False,
        help_text=_("Only while you also say yes to offers and news."),
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
