"""api_key_authenticate: the live key a raw header value is, or None."""

import pytest

from integrations.selectors import api_key_authenticate
from integrations.services.shops import api_key_revoke, shop_create


def test_a_good_key_gives_the_key_and_its_shop(shop, make_key):
    api_key, plaintext = make_key(shop, "read")
    found = api_key_authenticate(plaintext)
    assert found == api_key and found.shop == shop


def test_surrounding_whitespace_is_ignored(shop, make_key):
    api_key, plaintext = make_key(shop, "read")
    assert api_key_authenticate(f"  {plaintext}\n") == api_key


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "nonsense",
        "lk_live_abcdefgh_" + "a" * 39,
        "Bearer lk_live_abcdefgh_" + "a" * 40,
        "lk_live_ABCDEFGH_" + "a" * 40,
    ],
)
def test_malformed_keys_are_refused_without_a_query(db, raw, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert api_key_authenticate(raw) is None


def test_an_unknown_key_is_refused(shop, make_key):
    assert api_key_authenticate("lk_live_abcdefgh_" + "a" * 40) is None


def test_a_known_prefix_with_a_wrong_secret_is_refused(shop, make_key):
    api_key, plaintext = make_key(shop, "read")
    wrong = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")
    assert api_key_authenticate(wrong) is None


def test_one_shops_prefix_with_another_shops_secret_is_refused(shop, make_key):
    other = shop_create(name="Partner cafe", kind="partner")
    mine, my_plain = make_key(shop, "read")
    theirs, their_plain = make_key(other, "read")
    spliced = mine.prefix + their_plain.removeprefix(theirs.prefix)
    assert api_key_authenticate(spliced) is None
    assert api_key_authenticate(their_plain).shop == other


def test_a_revoked_key_is_refused(shop, make_key):
    api_key, plaintext = make_key(shop, "read")
    api_key_revoke(api_key=api_key)
    assert api_key_authenticate(plaintext) is None


def test_the_key_of_an_inactive_shop_is_refused(shop, make_key):
    api_key, plaintext = make_key(shop, "read")
    shop.active = False
    shop.save()
    assert api_key_authenticate(plaintext) is None


def test_a_lookup_is_one_query(shop, make_key, django_assert_num_queries):
    _, plaintext = make_key(shop, "read")
    with django_assert_num_queries(1):
        assert api_key_authenticate(plaintext).shop.name == "Webshop NL"


# --- order_member_find: who an order finds by e-mail -------------------------------------------------


def _web_signup(email: str):
    from members.models import User
    from members.services import member_signup

    return member_signup(user=User(email=email), joined_via="web")


def test_an_order_does_not_find_an_unconfirmed_web_signup_by_email(shop):
    """Anyone can type someone else's address into the sign-up form: that must not claim their orders."""
    from integrations.selectors import order_member_find

    _web_signup("ana@example.com")
    assert order_member_find(shop=shop, email="ana@example.com") is None


def test_an_order_finds_a_web_member_once_the_address_is_confirmed(shop):
    from allauth.account.models import EmailAddress

    from integrations.selectors import order_member_find

    member = _web_signup("ana@example.com")
    EmailAddress.objects.create(user=member.user, email="ana@example.com", verified=False, primary=True)
    assert order_member_find(shop=shop, email="ANA@example.com") is None
    EmailAddress.objects.filter(user=member.user).update(verified=True)
    assert order_member_find(shop=shop, email="ANA@example.com") == member


def test_an_order_finds_a_member_a_shop_registered_by_email(shop):
    from integrations.selectors import order_member_find
    from integrations.services.members import member_upsert

    member, _ = member_upsert(shop=shop, email="bo@example.com")
    assert order_member_find(shop=shop, email="bo@example.com") == member


def test_the_member_an_order_finds_says_whether_their_first_purchase_is_recorded(shop, django_assert_num_queries):
    """order_record skips the first_purchase event's own lookup when this says it is recorded: it must be
    true exactly when the event exists, however the member was found, in the one query of the lookup."""
    from integrations.selectors import order_member_find
    from integrations.services.members import member_upsert
    from rewards.services.events import event_first_purchase_record

    member, _ = member_upsert(shop=shop, external_id="cust-1", email="ana@example.com")
    other, _ = member_upsert(shop=shop, external_id="cust-2", email="bo@example.com")
    ways = [{"member_id": member.public_id}, {"member_external_id": "cust-1"}, {"email": "ana@example.com"}]
    for way in ways:
        with django_assert_num_queries(1):
            found = order_member_find(shop=shop, **way)
        assert found == member and found.first_purchase_recorded is False
    event_first_purchase_record(member=other, shop=shop, occurred_at=other.joined_at)  # someone else's
    assert not any(order_member_find(shop=shop, **way).first_purchase_recorded for way in ways)
    event_first_purchase_record(member=member, shop=shop, occurred_at=member.joined_at)
    for way in ways:
        assert order_member_find(shop=shop, **way).first_purchase_recorded is True
