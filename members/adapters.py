from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse

from members.models import Member
from members.services import member_signup


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up goes through members.services.member_signup: user, member, account and bonus together."""

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        if not commit:
            return user
        data = form.cleaned_data
        member_signup(
            user=user,
            first_name=data.get("first_name", ""),
            last_name=data.get("last_name", ""),
            birthday=data.get("birthday"),
            marketing_consent=data.get("marketing_consent", False),
            joined_via="web",
        )
        return user

    def get_login_redirect_url(self, request):
        # Staff logins without a membership have nothing to see on the member pages: send them to the
        # admin instead of the "no membership" page.
        user = request.user
        if user.is_staff and not Member.objects.filter(user=user).exists():
            return reverse("admin:index")
        return super().get_login_redirect_url(request)
