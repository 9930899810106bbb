from allauth.account.adapter import DefaultAccountAdapter

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
