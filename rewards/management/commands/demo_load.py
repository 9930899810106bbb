"""Load a demo program: settings, a staff login, a few members with some history, a demo shop with an API
key, two tiers, a few rewards and a campaign. Safe to run again. (Complete example programs: program_load.)"""

import datetime as dt
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from integrations.models import Shop
from integrations.services.members import member_upsert
from integrations.services.shops import api_key_create, shop_create
from members.models import Member, User
from members.services import member_signup
from rewards.models import Campaign, Cause, PointLot, Program, Reward, Tier
from rewards.selectors import program_get
from rewards.services.ledger import Actor, points_earn, points_redeem, points_reverse

# Demo logins for a local portal only; the README lists them.
STAFF_EMAIL, STAFF_PASSWORD = "staff@example.com", "demo-staff-password"  # noqa: S105
MEMBER_PASSWORD = "demo-member-password"  # noqa: S105
DEMO_SHOP = "Demo Webshop"
DEMO_KEY_NAME = "Demo key"
MEMBERS = [
    ("ada@example.com", "Ada", "Lovelace", [120, 80, 300], 150),
    ("grace@example.com", "Grace", "Hopper", [60, 45], 0),
    ("alan@example.com", "Alan", "Turing", [500, 250, 90, 40], 400),
]


class Command(BaseCommand):
    help = "Load demo data: a program, a staff login and members with history (skips what exists)."

    def handle(self, *args, **options):
        with transaction.atomic():
            program = program_get()
            if program.name == "Loyalty program":
                program.name = "Demo Rewards"
                program.currency = "EUR"
                program.time_zone = "Europe/Amsterdam"
                program.expiry_policy = Program.Expiry.END_OF_YEAR
                program.expiry_period = 12
                program.pending_days = 14
                program.signup_bonus = 100
                program.save()
                self.stdout.write(f"Program '{program.name}': 100 points on sign-up, 14 days pending, yearly expiry.")

            if not User.objects.filter(email=STAFF_EMAIL).exists():
                User.objects.create_superuser(STAFF_EMAIL, STAFF_PASSWORD)
            for email, first, last, orders, spend in MEMBERS:
                if Member.objects.filter(user__email=email).exists():
                    continue
                user = User(email=email)
                user.set_password(MEMBER_PASSWORD)
                member = member_signup(user=user, first_name=first, last_name=last, marketing_consent=True)
                self._history(member, orders, spend)
                self.stdout.write(f"Member {first} {last}: {len(orders)} orders.")
            api_key = self._shop()
            self._catalogue()
            self._referrals()
        self._reports()

        self.stdout.write(
            self.style.SUCCESS(
                "\nDemo data ready. Open http://127.0.0.1:8000/\n"
                f"  staff admin:  http://127.0.0.1:8000/admin/   {STAFF_EMAIL} / {STAFF_PASSWORD}\n"
                f"  member pages: http://127.0.0.1:8000/me/      {MEMBERS[0][0]} / {MEMBER_PASSWORD}\n"
                f"  (also {', '.join(m[0] for m in MEMBERS[1:])}, same password)\n"
                "  API docs:     http://127.0.0.1:8000/api/docs/ (schema: /api/v1/schema/)\n"
                "  demo shop:    http://127.0.0.1:8000/demo/shop/ (the loyalty widget in a shop; local mode only)\n"
            )
        )
        if api_key:
            self.stdout.write(
                f"  API key of '{DEMO_SHOP}' (shown only now; read, write and adjust):\n    {api_key}\n"
                "  Try: curl -H 'X-Api-Key: <key>' http://127.0.0.1:8000/api/v1/members?email=ada@example.com\n"
            )
        else:
            self.stdout.write(
                f"  '{DEMO_SHOP}' has its API key from an earlier run; make another in the admin (Shops) or with "
                "manage.py shop_create.\n"
            )

    def _shop(self) -> str | None:
        """The demo shop, its customers (the demo members, by their e-mail) and, the first time, its API key,
        whose plaintext is returned once."""
        shop = Shop.objects.filter(name=DEMO_SHOP).first()
        if shop is None:
            shop = shop_create(name=DEMO_SHOP, currency="EUR", time_zone="Europe/Amsterdam")
        for i, (email, *_rest) in enumerate(MEMBERS, start=1):
            member_upsert(shop=shop, external_id=f"demo-customer-{i}", email=email)
        if shop.api_keys.filter(name=DEMO_KEY_NAME).exists():
            return None
        _, plaintext = api_key_create(shop=shop, name=DEMO_KEY_NAME, scopes=("read", "write", "adjust"))
        return plaintext

    def _catalogue(self) -> None:
        """Two tiers, four rewards and a campaign, so that the member pages have something to show; skipped
        for whatever exists (staff may have changed it)."""
        if not Tier.objects.exists():
            Tier.objects.create(name="Member", rank=0, icon="☆", colour="#5B6770", entry_threshold=0)
            Tier.objects.create(
                name="Gold",
                rank=1,
                icon="★",
                colour="#B8860B",
                metric=Tier.Metric.POINTS,
                entry_threshold=1000,
                window=Tier.Window.CALENDAR_YEAR,
                earning_multiplier=Decimal("1.25"),
                birthday_bonus_points=100,
                free_shipping=True,
            )
            self.stdout.write("Tiers: Member, and Gold from 1,000 points a year (25 % more points, free shipping).")
        if not Reward.objects.exists():
            cause, _ = Cause.objects.get_or_create(name="Tree planting", defaults={"description": "One tree a gift."})
            common = {"currency": "EUR", "coupon_valid_days": 30}
            Reward.objects.create(kind="fixed_amount", title="5 EUR off", points=250, value=5, **common)
            Reward.objects.create(kind="free_shipping", title="Free shipping", points=150, **common)
            Reward.objects.create(
                kind="percentage", title="20 % off, up to 50 EUR", points=900, value=20, max_discount=50, **common
            )
            Reward.objects.create(kind="donation", title="Plant a tree", points=100, cause=cause, currency="EUR")
            self.stdout.write("Rewards: 5 EUR off, free shipping, 20 % off, and a donation.")
        if not Campaign.objects.exists():
            now = timezone.now()
            Campaign.objects.create(
                name="Double points on books",
                description="Twice the points on books this month.",
                kind=Campaign.Kind.PRODUCT_MULTIPLIER,
                starts_at=now - dt.timedelta(days=1),
                ends_at=now + dt.timedelta(days=30),
                categories=["books"],
                factor=2,
            )
            self.stdout.write("Campaign: double points on books for 30 days.")

    def _referrals(self) -> None:
        """The referral program on (the friend gets 100 points, the referrer 500 once the friend's first order
        of 20 EUR or more is past its return window), and Katherine, whom Ada brought, with a first order."""
        from integrations.services.orders import order_record
        from referrals.selectors import referral_program_get
        from referrals.services import referral_code_get_or_create, referral_join

        rules = referral_program_get()
        if not rules.active and not rules.referrer_points:
            rules.active = True
            rules.friend_reward, rules.friend_points = "points", 100
            rules.referrer_reward, rules.referrer_points = "points", 500
            rules.trigger, rules.min_order_total = "first_order", Decimal(20)
            rules.save()
            self.stdout.write("Referrals: 100 points for the friend, 500 for the member once the friend's order is in.")
        if Member.objects.filter(user__email="katherine@example.com").exists() or not rules.active:
            return
        ada = Member.objects.get(user__email=MEMBERS[0][0])
        user = User(email="katherine@example.com")
        user.set_password(MEMBER_PASSWORD)
        katherine = member_signup(user=user, first_name="Katherine", last_name="Johnson")
        referral_join(friend=katherine, code=referral_code_get_or_create(member=ada).code)
        order_record(
            shop=Shop.objects.get(name=DEMO_SHOP),
            data={
                "external_id": "demo-referred-1",
                "member_id": katherine.public_id,
                "currency": "EUR",
                "total": "64.90",
                "placed_at": timezone.now(),
            },
        )
        self.stdout.write("Member Katherine Johnson: referred by Ada, one order (Ada's reward is pending).")

    def _reports(self) -> None:
        """What the beat would do within minutes, now, so that the accounting and insights pages show the
        demo: post the journal (no lag: nothing else is writing) and refresh the last 30 days' rollups."""
        from accounting.services.posting import journal_post_pending
        from insights.services.rollups import local_today, rollups_refresh
        from insights.services.scores import member_scores_refresh

        journal_post_pending(lag=dt.timedelta(0))
        rollups_refresh(since=local_today() - dt.timedelta(days=30))
        member_scores_refresh()
        self.stdout.write("Reports: journal posted, insights refreshed for the last 30 days.")

    def _history(self, member, orders, spend):
        account = member.points_account
        now = timezone.now()
        shop = Actor.shop("demo-web-shop")
        for i, points in enumerate(orders):
            # The last order is recent and still in its return window; the others are available.
            pending = i == len(orders) - 1
            points_earn(
                account=account,
                points=points,
                source=PointLot.Source.ORDER,
                source_ref=f"demo-order-{member.number}-{i + 1}",
                actor=shop,
                idempotency_key=f"demo:{member.public_id}:order:{i + 1}",
                reason=f"Order #{1000 + i}",
                available_at=now + dt.timedelta(days=10) if pending else None,
            )
        if spend:
            points_redeem(
                account=account,
                points=spend,
                reason="Reward: 5 EUR off",
                actor=Actor.member(member.user),
                idempotency_key=f"demo:{member.public_id}:redeem",
            )
        if len(orders) > 2:
            refunded = PointLot.objects.get(source_ref=f"demo-order-{member.number}-2")
            points_reverse(
                lot=refunded,
                points=refunded.points // 2,
                reason="Partial refund of order #1001",
                actor=shop,
                idempotency_key=f"demo:{member.public_id}:refund",
            )
