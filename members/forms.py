from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.utils.translation import gettext_lazy as _

from members.models import Member


class SignupForm(AllauthSignupForm):
    """allauth's sign-up with the member's names, birthday and marketing consent."""

    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    birthday = forms.DateField(
        label=_("Birthday"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Optional: for a birthday treat."),
    )
    marketing_consent = forms.BooleanField(label=_("Send me offers and news by e-mail"), required=False)


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = ["first_name", "last_name", "birthday"]
        widgets = {"birthday": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}


class PreferencesForm(forms.Form):
    marketing_consent = forms.BooleanField(label=_("Send me offers and news by e-mail"), required=False)


class CloseAccountForm(forms.Form):
    password = forms.CharField(label=_("Your password"), widget=forms.PasswordInput)
    confirm = forms.BooleanField(label=_("I understand that my points will be forfeited and this cannot be undone"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("That password is not right."))
        return password
