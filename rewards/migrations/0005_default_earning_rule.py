"""A fresh program's earning rules (docs/earning.md), made only when no earning rule exists yet.

- "Base rate": 1 point per 1.00 of the program's currency, on the order total less tax and shipping
  (after discounts), rounded down, per order.
- "Gift cards never earn": an exclusion of the usual gift card categories; shops that name theirs
  differently add their category or SKUs to it.

Both are ordinary rules that staff can edit or delete in the admin.
"""

from decimal import Decimal

from django.db import migrations

GIFT_CARD_CATEGORIES = ["gift card", "gift cards", "gift-card", "gift-cards", "gift_card", "giftcard", "giftcards"]


def create_default_rules(apps, schema_editor):
    EarningRule = apps.get_model("rewards", "EarningRule")
    Program = apps.get_model("rewards", "Program")
    if EarningRule.objects.exists():
        return
    currency = Program.objects.filter(pk=1).values_list("currency", flat=True).first() or "EUR"
    EarningRule.objects.create(
        name="Gift cards never earn",
        kind="exclusion",
        currency=currency,
        categories=GIFT_CARD_CATEGORIES,
        priority=100,
    )
    EarningRule.objects.create(
        name="Base rate: 1 point per 1.00",
        kind="base_rate",
        currency=currency,
        points=Decimal(1),
        amount=Decimal("1.00"),
        include_tax=False,
        include_shipping=False,
        subtract_discounts=True,
        rounding="down",
        scope="order",
        priority=0,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("rewards", "0004_earning_rules"),
    ]

    operations = [
        migrations.RunPython(create_default_rules, migrations.RunPython.noop),
    ]
