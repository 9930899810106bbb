"""The admin's read-only list of member emails: support sees what was sent or skipped and why; no edits."""

import pytest
from django.urls import reverse

from members.models import User
from members.tests.factories import member_create
from notifications.tests.helpers import collect, emails, send_all

pytestmark = pytest.mark.django_db


def test_support_finds_a_members_emails_and_cannot_change_them(client):
    client.force_login(User.objects.create_superuser("boss@example.com", "pw"))
    member_create(email="anna@example.com")
    member_create(email="ben@example.com")
    collect()
    send_all()
    url = reverse("admin:notifications_memberemail_changelist")
    page = client.get(url, {"q": "anna@example.com", "kind": "welcome", "status": "sent"}).content.decode()
    assert "anna@example.com" in page and "ben@example.com" not in page
    email = emails()[0]
    assert client.get(reverse("admin:notifications_memberemail_add")).status_code == 403
    change = client.post(reverse("admin:notifications_memberemail_change", args=[email.pk]), {"status": "queued"})
    assert change.status_code in (200, 403)
    email.refresh_from_db()
    assert email.status == "sent"
