"""The invitation e-mail a member sends a friend from their referral page (referrals.tasks).

Its text is fixed: the member's first name, the program's name, what the friend gets and the member's
link; nothing the member typed goes into it, so the form cannot be used to send anything else."""

import re

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from members.models import Member
from referrals.selectors import referral_program_get
from referrals.selectors.member import friend_gets_words
from referrals.services import referral_code_get_or_create
from rewards.selectors import program_get


def invite_send(*, member_id: int, to: str) -> None:
    """Render and send the fixed invitation from member `member_id` to the one address `to`."""
    member = Member.objects.select_related("user").get(pk=member_id)
    code = referral_code_get_or_create(member=member).code
    rules = referral_program_get()
    program = program_get()
    context = {
        "first_name": name_for_email(member.first_name),
        "program_name": program.name,
        "link": site_url(reverse("referrals:link", kwargs={"code": code})),
        "code": code,
        "gift": friend_gets_words(rules),
    }
    subject = " ".join(render_to_string("referrals/email/invite_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("referrals/email/invite.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
    )
    message.attach_alternative(render_to_string("referrals/email/invite.html", context), "text/html")
    message.send()


# A first name as people write them: letters (any script), spaces, hyphens, apostrophes and dots. Anything
# else (a web address, an e-mail address, a sentence) is not put into an e-mail to someone else.
_NAME_RE = re.compile(r"^[^\W\d_]+(?:[ '’.-][^\W\d_]*)*$")
NAME_MAX = 40


def name_for_email(first_name: str) -> str:
    """The member's first name for the invitation, or "A friend" when it does not look like a name."""
    name = " ".join((first_name or "").split())
    looks_like_a_domain = re.search(r"\.[^\W\d_]{2,}", name)
    if name and len(name) <= NAME_MAX and _NAME_RE.match(name) and not looks_like_a_domain:
        return name
    return _("A friend")


def site_url(path: str) -> str:
    """An absolute URL of `path` on this deployment (settings.SITE_URL: e-mails are sent outside a request)."""
    return getattr(settings, "SITE_URL", "http://localhost:8000").rstrip("/") + path
