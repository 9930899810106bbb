import factory

from members.models import Member, User
from members.services import member_signup


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")


def member_create(*, email: str | None = None, password: str = "correct-horse-battery", **profile) -> Member:
    """A member made the way sign-up makes one (user, member, account, bonus), through the service."""
    user = User(email=email or _next_email())
    user.set_password(password)
    return member_signup(user=user, **profile)


_counter = iter(range(10**9))


def _next_email() -> str:
    return f"member{next(_counter)}@example.com"
