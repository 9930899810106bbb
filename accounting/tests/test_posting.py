"""The posting service, fed by the real order intake and ledger services."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounting.models import Account, AccountingPolicy, EstimateChange, JournalEntry, JournalLine, LotValuation
from accounting.selectors import accounting_audit, liability_rollforward
from accounting.services.policy import redemption_rate_set
from accounting.tests.conftest import sale
from accounting.tests.helpers import balance, credit_balance, post
from rewards.models import PointEntry, PointLot
from rewards.services.ledger import Actor, points_adjust, points_earn, points_expire, points_redeem, points_reverse
from rewards.services.store_credit import store_credit_add

Role = Account.Role
SYSTEM = Actor.system("tests")
UNIT = Decimal(1)


def policy(**fields) -> AccountingPolicy:
    p, _ = AccountingPolicy.objects.get_or_create(pk=1)
    for name, value in fields.items():
        setattr(p, name, value)
    p.save()
    return p


def redeem(member, points: int, key: str):
    return points_redeem(
        account=member.points_account, points=points, reason="Reward", actor=SYSTEM, idempotency_key=key
    )


def revenue_total() -> Decimal:
    return credit_balance(Role.REVENUE) + credit_balance(Role.BREAKAGE_REVENUE)


def test_ifrs15_example_52_end_to_end(shop, member, rules):
    """Illustrative Example 52 through the order intake and the ledger: CU100,000 of sales earn 10,000
    points (1 per CU10), face value CU1, 95 % expected to be redeemed."""
    policy(point_face_value=Decimal(1), expected_redemption_rate=Decimal("0.95"))
    sale(shop, Decimal(100_000))
    post()
    # The reclassification out of sales revenue: CU8,676 (8,675.80 to the cent) becomes a contract liability.
    assert credit_balance(Role.CONTRACT_LIABILITY).quantize(UNIT) == Decimal(8_676)
    assert balance(Role.REVENUE) == credit_balance(Role.CONTRACT_LIABILITY)
    deferred = revenue_total()

    redeem(member, 4_500, "year-1")
    post()
    year_1 = revenue_total() - deferred
    assert year_1.quantize(UNIT) == Decimal(4_110)

    redemption_rate_set(rate=Decimal("0.97"), source="override", reason="Year 2 review: 9,700 expected")
    redeem(member, 4_000, "year-2")
    post()
    year_2 = revenue_total() - deferred - year_1
    assert year_2.quantize(UNIT) == Decimal(3_493)
    assert (year_1 + year_2).quantize(UNIT) == Decimal(7_603)
    assert credit_balance(Role.CONTRACT_LIABILITY).quantize(UNIT) == Decimal(1_073)
    assert accounting_audit() == []
    assert EstimateChange.objects.get().new_rate == Decimal("0.97")


def test_posting_twice_posts_nothing_new_and_a_source_cannot_post_twice(shop, member, rules):
    sale(shop, Decimal(500))
    first = post()
    assert first.journal_entries == 1
    assert post().journal_entries == 0
    entry = JournalEntry.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        JournalEntry.objects.create(
            date=entry.date,
            period=entry.period,
            kind=entry.kind,
            description="again",
            source_kind=entry.source_kind,
            source_id=entry.source_id,
            currency=entry.currency,
        )


def test_tax_is_not_part_of_the_price_split(shop, member, rules):
    policy(point_face_value=Decimal("1"), expected_redemption_rate=Decimal("1"))
    sale(shop, Decimal(100), tax=Decimal(21))  # 10 points, SSP 10: 100 x 10 / 110 = 9.09
    post()
    assert credit_balance(Role.CONTRACT_LIABILITY) == Decimal("9.09")


def test_points_without_a_sale_are_an_expense_and_a_provision_released_on_expiry(member):
    policy(point_face_value=Decimal("0.01"), expected_redemption_rate=Decimal("0.8"))
    points_earn(
        account=member.points_account, points=1000, source=PointLot.Source.SIGNUP, actor=SYSTEM, idempotency_key="s"
    )
    post()
    assert balance(Role.LOYALTY_EXPENSE) == Decimal("8.00")  # 1,000 x 0.01 x 80 %
    assert credit_balance(Role.PROVISION) == Decimal("8.00")
    redeem(member, 500, "r")
    post()
    assert credit_balance(Role.PROVISION) == Decimal("3.00")  # 500 x 0.01 used
    assert credit_balance(Role.REWARDS_CLEARING) == Decimal("5.00")
    points_expire(account=member.points_account, actor=SYSTEM, idempotency_key="x", reason="Closed", everything=True)
    post()
    assert credit_balance(Role.PROVISION) == Decimal("0.00")
    assert balance(Role.LOYALTY_EXPENSE) == Decimal("5.00")
    assert accounting_audit() == []


def test_expiry_releases_the_deferred_remainder_to_breakage(shop, member, rules):
    policy(point_face_value=Decimal(1), expected_redemption_rate=Decimal("0.5"))
    sale(shop, Decimal(1000))  # 100 points, SSP 50: 1000 x 50 / 1050 = 47.62
    redeem(member, 25, "r")  # 25 of 50 expected: half of 47.62
    post()
    assert credit_balance(Role.REVENUE) == Decimal("-47.62") + Decimal("23.81")
    points_expire(account=member.points_account, actor=SYSTEM, idempotency_key="x", reason="Closed", everything=True)
    post()
    assert credit_balance(Role.CONTRACT_LIABILITY) == 0
    assert credit_balance(Role.BREAKAGE_REVENUE) == Decimal("23.81")
    assert LotValuation.objects.get().outstanding == 0


def test_a_refund_reverses_the_deferral_and_a_negative_adjustment_is_forfeiture(shop, member, rules):
    policy(point_face_value=Decimal(1), expected_redemption_rate=Decimal("1"))
    order = sale(shop, Decimal(100))  # 10 points: 9.09
    sale(shop, Decimal(100))
    post()
    points_reverse(lot=order.lot, reason="Refund", actor=SYSTEM, idempotency_key="rev")
    points_adjust(
        account=member.points_account, points=-5, reason="Goodwill taken back", actor=SYSTEM, idempotency_key="adj"
    )
    post()
    assert credit_balance(Role.CONTRACT_LIABILITY) == Decimal("4.54")  # 9.09 - half of 9.09 (4.55)
    assert credit_balance(Role.BREAKAGE_REVENUE) == Decimal("4.55")
    assert accounting_audit() == []


def test_a_transfer_moves_the_liability_between_members(shop, member, other_member, rules, settings):
    from rewards.tests.helpers import set_program

    set_program(transfers_enabled=True)
    policy(point_face_value=Decimal(1), expected_redemption_rate=Decimal("1"))
    sale(shop, Decimal(1000))  # 100 points: 90.91
    from rewards.services.ledger import points_transfer

    points_transfer(
        source=member.points_account,
        target=other_member.points_account,
        points=40,
        reason="Gift",
        actor=SYSTEM,
        idempotency_key="t",
    )
    post()
    lines = JournalLine.objects.filter(kind="transfer", account__role=Role.CONTRACT_LIABILITY)
    assert {(line.member_id, line.debit, line.credit) for line in lines} == {
        (member.pk, Decimal("36.36"), Decimal(0)),
        (other_member.pk, Decimal(0), Decimal("36.36")),
    }
    redeem(other_member, 40, "spend-gift")
    post()
    assert credit_balance(Role.CONTRACT_LIABILITY) == Decimal("54.55")
    assert accounting_audit() == []


def test_store_credit_is_a_liability_at_face_value(member):
    store_credit_add(
        member=member, amount=Decimal("12.50"), currency="EUR", kind="cashback", reason="Cashback", idempotency_key="c"
    )
    post()
    assert credit_balance(Role.STORE_CREDIT_LIABILITY) == Decimal("12.50")
    assert balance(Role.LOYALTY_EXPENSE) == Decimal("12.50")


def test_rollforward_reconciles_to_the_lots(shop, member, rules):
    policy(point_face_value=Decimal(1), expected_redemption_rate=Decimal("0.9"))
    sale(shop, Decimal(1000))
    sale(shop, Decimal(350))
    redeem(member, 60, "r")
    points_earn(
        account=member.points_account, points=70, source=PointLot.Source.BONUS, actor=SYSTEM, idempotency_key="b"
    )
    post()
    redemption_rate_set(rate=Decimal("0.7"), source="estimate", reason="cohorts")
    report = liability_rollforward()
    (row,) = report.rows
    assert row.balances and row.opening == 0
    assert row.movements["issue"] > 0 and row.movements["redeem"] < 0 and row.movements["estimate"] != 0
    assert report.differences == {}
    assert report.journal_closing["EUR"] == report.lots_outstanding["EUR"] > 0


def test_entries_not_old_enough_wait_for_the_next_run(shop, member, rules):
    sale(shop, Decimal(100))
    from accounting.services.posting import journal_post_pending

    assert journal_post_pending().point_entries == 0  # the default lag: a minute
    assert PointEntry.objects.count() == 1
    assert post().point_entries == 1


def _reward_redeemed_and_given_back(member, points: int):
    """Redeem a coupon reward of `points` points, post, then give the points back as a cancelled order does."""
    from rewards.models import Reward
    from rewards.services.coupons import redemption_points_refund
    from rewards.services.redemptions import reward_redeem

    reward = Reward.objects.create(kind="fixed_amount", title="5 off", points=points, value=Decimal(5))
    redemption, _ = reward_redeem(member=member, reward=reward, idempotency_key="r-1", channel="web")
    post()
    return lambda: redemption_points_refund(redemption=redemption, actor=SYSTEM, reason="Order cancelled")


def test_a_redemption_given_back_reverses_its_revenue_exactly(shop, member, rules):
    policy(point_face_value=UNIT, expected_redemption_rate=Decimal("1"))
    sale(shop, Decimal(100))  # 10 points: 9.09 of the sale deferred (the journal holds only what moves)
    give_back = _reward_redeemed_and_given_back(member, 10)
    assert credit_balance(Role.CONTRACT_LIABILITY) == 0
    assert credit_balance(Role.REVENUE) == 0  # deferred, then recognised on redemption
    redemption = give_back()
    post()
    assert credit_balance(Role.CONTRACT_LIABILITY) == Decimal("9.09")
    assert credit_balance(Role.REVENUE) == Decimal("-9.09")  # deferred again
    entry = JournalEntry.objects.get(source_id=redemption.refund_entry_id)
    assert entry.kind == "redeem"
    assert {(line.account.role, line.debit, line.credit) for line in entry.lines.select_related("account")} == {
        (Role.REVENUE, Decimal("9.09"), Decimal(0)),
        (Role.CONTRACT_LIABILITY, Decimal(0), Decimal("9.09")),
    }
    lot = LotValuation.objects.get(lot__entries__id=redemption.refund_entry_id)
    assert (lot.basis, lot.points, lot.value, lot.outstanding) == ("deferral", 10, Decimal("9.09"), Decimal("9.09"))
    report = liability_rollforward()
    assert report.rows[-1].movements.get("redeem", 0) == 0  # redeemed, then given back: nothing redeemed
    assert report.differences == {}
    assert accounting_audit() == []
    # Redeemed again: the lot's value goes to revenue once more.
    redeem(member, 10, "again")
    post()
    assert credit_balance(Role.CONTRACT_LIABILITY) == 0
    assert credit_balance(Role.REVENUE) == 0
    assert accounting_audit() == []


def test_a_provisioned_redemption_given_back_reinstates_the_provision(shop, member):
    policy(no_sale_policy="provision", point_face_value=Decimal("0.10"), expected_redemption_rate=Decimal("0.5"))
    points_earn(account=member.points_account, points=100, source="bonus", actor=SYSTEM, idempotency_key="b")
    give_back = _reward_redeemed_and_given_back(member, 100)  # provision 5.00 used, 5.00 beyond it expensed
    assert credit_balance(Role.PROVISION) == 0
    assert balance(Role.LOYALTY_EXPENSE) == Decimal(10)
    assert credit_balance(Role.REWARDS_CLEARING) == Decimal(10)
    give_back()
    post()
    assert credit_balance(Role.PROVISION) == Decimal(5)
    assert balance(Role.LOYALTY_EXPENSE) == Decimal(5)  # as before the redemption
    assert credit_balance(Role.REWARDS_CLEARING) == 0
    assert accounting_audit() == []


def test_a_redemption_and_its_refund_in_one_chunk(shop, member, rules):
    from rewards.models import Reward
    from rewards.services.coupons import redemption_points_refund
    from rewards.services.redemptions import reward_redeem

    policy(point_face_value=UNIT, expected_redemption_rate=Decimal("1"))
    sale(shop, Decimal(100))
    reward = Reward.objects.create(kind="fixed_amount", title="5 off", points=10, value=Decimal(5))
    redemption, _ = reward_redeem(member=member, reward=reward, idempotency_key="r-1", channel="web")
    redemption_points_refund(redemption=redemption, actor=SYSTEM, reason="Order cancelled")
    post()
    assert credit_balance(Role.CONTRACT_LIABILITY) == Decimal("9.09")
    assert credit_balance(Role.REVENUE) == Decimal("-9.09")
    assert accounting_audit() == []
