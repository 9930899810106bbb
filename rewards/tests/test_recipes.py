"""Program recipes and their loader: every recipe is valid and loads idempotently, over any other recipe
it gives the same program as on a fresh one, a program with activity is protected unless replace is
given (and then history is paused, not deleted), and the program_load command (list, unknown names,
API keys shown once, dry run). The customer stories of each recipe are in rewards/tests/recipes/."""

import dataclasses
import io

import pytest
from django.core.management import CommandError, call_command
from django.db.models import ForeignKey
from rest_framework.test import APIClient

from core.exceptions import ApplicationError
from core.tests.concurrency import run_at_once
from integrations.models import Shop
from members.tests.factories import member_create
from rewards.admin.tiers import tier_definition_errors
from rewards.models import (
    Campaign,
    CampaignMember,
    Cause,
    EarningRule,
    EventRule,
    PointLot,
    Program,
    Reward,
    Segment,
    Tier,
)
from rewards.recipes import NAMES, recipe_get, recipes_all
from rewards.selectors import ledger_audit, program_get
from rewards.services.events import event_record
from rewards.services.ledger import Actor, points_earn
from rewards.services.recipes import PROGRAM_FIELDS, program_activity, recipe_load
from rewards.services.redemptions import reward_redeem

pytestmark = pytest.mark.django_db

CONFIG_MODELS = (EarningRule, EventRule, Tier, Segment, Campaign, Cause, Reward)
SKIP = {"id", "public_id", "created_at", "updated_at"}


def configuration(recipe_name: str) -> dict:
    """The program's configuration as plain data: settings, the recipe's shops, and every rule, tier,
    segment, campaign, cause and reward with its fields (relations by name, shops by name, not by id)."""
    shop_names = {str(s.public_id): s.name for s in Shop.objects.all()}
    program = program_get()
    out = {"program": {name: getattr(program, name) for name in PROGRAM_FIELDS}}
    out["shops"] = sorted(
        (s.name, s.kind, s.currency, s.time_zone, s.active)
        for s in Shop.objects.filter(name__in=[spec.name for spec in recipe_get(recipe_name).shops])
    )
    for model in CONFIG_MODELS:
        rows = []
        for obj in model.objects.all():
            row = {}
            for f in model._meta.concrete_fields:
                if f.name in SKIP:
                    continue
                value = getattr(obj, f.name)
                if isinstance(f, ForeignKey):
                    value = str(value) if value is not None else None
                elif f.name == "shop_ids":
                    value = sorted(shop_names[i] for i in value)
                row[f.name] = value
            for m2m in model._meta.many_to_many:
                row[m2m.name] = sorted(str(o) for o in getattr(obj, m2m.name).all())
            rows.append(row)
        out[model.__name__] = sorted(rows, key=repr)
    return out


def config_ids() -> dict:
    return {model.__name__: sorted(model.objects.values_list("id", flat=True)) for model in CONFIG_MODELS}


# --- the recipes themselves ---------------------------------------------------------------------------


def test_every_recipe_is_listed_with_its_documentation():
    recipes = recipes_all()
    assert [r.name for r in recipes] == list(NAMES)
    for recipe in recipes:
        assert recipe.summary and len(recipe.summary) <= 110
        assert "Modelled on" in recipe.description  # what it models and on which kind of program
        assert recipe.shops and all(spec.name for spec in recipe.shops)


@pytest.mark.parametrize("name", NAMES)
def test_a_recipe_loads_a_valid_program_and_loading_it_again_changes_nothing(name):
    first = recipe_load(name=name)
    assert first.applied and first.changes
    assert [shop.name for shop in first.shops] == [spec.name for spec in recipe_get(name).shops]
    assert len(first.keys) == len(first.shops)  # a key for each shop it created
    program = program_get()
    assert program.name == recipe_get(name).title
    assert all(shop.currency == program.currency for shop in first.shops)
    assert all(rule.currency == program.currency for rule in EarningRule.objects.all())
    tiers = list(Tier.objects.all())
    for tier in tiers:
        assert tier_definition_errors(tier, tiers) == {}, tier.name  # what the admin form checks
    before, ids = configuration(name), config_ids()

    again = recipe_load(name=name)
    assert again.changes == []
    assert again.keys == []  # the shops exist: no new keys unless asked
    assert configuration(name) == before
    assert config_ids() == ids  # the same rows, updated in place, not made again


@pytest.mark.parametrize("name", NAMES)
def test_over_another_recipe_a_recipe_gives_the_same_program_as_on_a_fresh_one(name):
    recipe_load(name=name)
    fresh = configuration(name)
    other = NAMES[(NAMES.index(name) + 1) % len(NAMES)]
    recipe_load(name=other)
    assert configuration(name) != fresh
    recipe_load(name=name)
    assert configuration(name) == fresh


def test_the_program_settings_a_recipe_leaves_out_go_back_to_their_defaults():
    recipe_load(name="coffee_chain")  # a sign-up bonus of 25, stars expire
    program = program_get()
    program.transfers_enabled = True
    program.staff_adjust_limit = 5000  # the operator's, not the recipe's
    program.save()
    recipe_load(name="airline_status")
    program = program_get()
    assert program.signup_bonus == 0
    assert program.transfers_enabled is False
    assert program.rounding == Program._meta.get_field("rounding").default
    assert program.staff_adjust_limit == 5000


def test_an_unknown_recipe_is_an_error_naming_the_recipes():
    with pytest.raises(ApplicationError) as info:
        recipe_load(name="grocery")
    assert info.value.code == "unknown_recipe"
    assert "department_store" in info.value.message
    assert recipe_get("Department-Store").name == "department_store"  # capitals and dashes are forgiven


# --- a program with activity ------------------------------------------------------------------------


def _activity_on_fashion_brand():
    """The fashion brand loaded, with a member who followed (an event award) and redeemed 15% off."""
    recipe_load(name="fashion_brand")
    member = member_create()  # the sign-up bonus: 100 points
    event_record(member=member, event="social_follow", shop=None, external_id=None, occurred_at=None)
    points_earn(
        account=member.points_account,
        points=600,
        source=PointLot.Source.ADJUSTMENT,
        source_ref="",
        actor=Actor.system("tests"),
        idempotency_key="test-earn",
    )
    reward_redeem(
        member=member, reward=Reward.objects.get(title="15% off (up to 30.00)"), idempotency_key="r1", channel="web"
    )
    return member


def test_a_program_with_activity_is_not_changed_without_replace():
    _activity_on_fashion_brand()
    assert set(program_activity()) >= {"point entries", "redemptions", "member events"}
    before = configuration("fashion_brand")
    with pytest.raises(ApplicationError) as info:
        recipe_load(name="family_of_brands")
    assert info.value.code == "program_has_activity"
    assert "Earning rule '3% back: 3 points per 1.00': created" in info.value.extra["changes"]
    assert configuration("fashion_brand") == before
    assert not Shop.objects.filter(name__startswith="Family").exists()  # nothing written
    # Loading the recipe that is loaded changes nothing, so it is allowed.
    assert recipe_load(name="fashion_brand").changes == []


def test_replace_removes_what_history_does_not_use_and_pauses_the_rest():
    _activity_on_fashion_brand()
    result = recipe_load(name="family_of_brands", replace=True)
    assert result.applied
    assert "Reward '15% off (up to 30.00)': paused (history refers to it)" in result.changes
    assert "Event rule 'Follow us: 50 points': paused (history refers to it)" in result.changes
    assert "Event rule 'Newsletter: 100 points': removed" in result.changes
    assert not Reward.objects.get(title="15% off (up to 30.00)").active
    assert EventRule.objects.filter(is_active=True).count() == 0
    assert not EventRule.objects.filter(name="Newsletter: 100 points").exists()
    # "Pay with points" is in both recipes: the same reward, changed in place to the family's terms.
    assert Reward.objects.get(title="Pay with points").points_per_unit == 100
    assert ledger_audit() == []
    # A paused part stays paused: loading again changes nothing.
    assert recipe_load(name="family_of_brands").changes == []


def test_replace_pauses_a_cause_given_to_and_a_campaign_that_gave_points():
    recipe_load(name="beauty_retailer")
    member = member_create()  # 100 points for joining
    reward_redeem(
        member=member,
        reward=Reward.objects.get(title="Give 100 points to the community fund"),
        idempotency_key="r1",
        channel="web",
    )
    campaign = Campaign.objects.get(name="Skincare fortnight")
    CampaignMember.objects.create(  # what an order during the fortnight leaves behind
        campaign=campaign, member=member, points=60, times=1, first_at=campaign.starts_at, last_at=campaign.starts_at
    )
    result = recipe_load(name="coffee_chain", replace=True)
    assert "Cause 'Community fund': paused (history refers to it)" in result.changes
    assert "Campaign 'Skincare fortnight': paused (history refers to it)" in result.changes
    assert "Tier 'Premier': removed" in result.changes  # nobody held it
    assert not Cause.objects.get().active
    assert not Campaign.objects.get().is_active
    assert CampaignMember.objects.filter(campaign=campaign).exists()
    # The configuration history says where the changes came from.
    assert Campaign.history.filter(history_change_reason="program_load coffee_chain").exists()
    assert Program.history.latest("history_date").history_change_reason == "program_load coffee_chain"
    assert ledger_audit() == []


def test_tiers_that_members_hold_cannot_be_replaced_away():
    recipe_load(name="airline_status")
    member = member_create()
    account = member.points_account
    account.tier = Tier.objects.get(name="Blue")  # as the first order or the nightly job records it
    account.save(update_fields=["tier"])
    with pytest.raises(ApplicationError) as info:
        recipe_load(name="department_store", replace=True)
    assert info.value.code == "tiers_in_use"
    assert info.value.extra["tiers"] == ["Blue"]
    assert program_get().name == recipe_get("airline_status").title  # nothing changed


def test_tiers_are_reordered_and_updated_in_place():
    recipe_load(name="department_store")
    gold = Tier.objects.get(name="Gold")
    Tier.objects.filter(name="Gold").update(rank=7, earning_multiplier=3)
    Tier.objects.create(name="Diamond", rank=9, metric="spend", entry_threshold=90000)
    result = recipe_load(name="department_store")
    assert "Tier 'Gold': rank, earning_multiplier updated" in result.changes
    assert "Tier 'Diamond': removed" in result.changes
    gold.refresh_from_db()
    assert (gold.rank, gold.earning_multiplier) == (2, 1.5)


# --- the command ------------------------------------------------------------------------------------


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("program_load", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_program_load_list():
    out, _ = run("--list")
    lines = out.splitlines()
    assert len(lines) == len(NAMES)
    assert lines[0].startswith("department_store ")
    assert "1 point per 1.00 on any payment method" in lines[0]
    assert any(line.startswith("airline_status ") for line in lines)


def test_program_load_unknown_or_missing_name():
    with pytest.raises(CommandError, match="no recipe called 'grocery'.*coffee_chain"):
        run("grocery")
    with pytest.raises(CommandError, match="--list"):
        run()


def test_program_load_prints_a_working_key_per_new_shop_once():
    out, err = run("beauty_retailer")
    lines = out.splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == ["Beauty - Online", "Beauty - Flagship store"]
    keys = [line.split()[0] for line in lines]
    assert "Shop Beauty - Online: created (Web store)" in err
    assert "shown only this once" in err
    assert "Reward 'Make-up lesson in store': created" in err
    assert "shops updated" not in err  # a new reward's shops are part of creating it
    for key, name in zip(keys, ["Beauty - Online", "Beauty - Flagship store"], strict=True):
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=key)
        assert client.get("/api/v1/shop").json()["name"] == name

    out, err = run("beauty_retailer")
    assert out == ""
    assert "Nothing to change" in err
    assert "--new-keys" in err

    out, _ = run("beauty_retailer", "--new-keys")
    assert len(out.splitlines()) == 2


def test_program_load_dry_run_writes_nothing():
    out, err = run("coop", "--dry-run")
    assert out == ""
    assert "Would load recipe coop" in err
    assert "Tier 'Member-owner': created" in err
    assert not Tier.objects.exists()
    assert not Shop.objects.exists()


def test_program_load_refuses_on_activity_and_says_how_to_replace():
    _activity_on_fashion_brand()
    with pytest.raises(CommandError) as info:
        run("coffee_chain")
    message = str(info.value)
    assert "--replace" in message
    _out, err = run("coffee_chain", "--dry-run")
    assert "loading it needs --replace" in err
    assert "Reward 'Extra shot or syrup': created" in message
    _out, err = run("coffee_chain", "--force")
    assert "Loaded recipe coffee_chain" in err
    assert program_get().currency == "USD"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_loads_at_once_make_one_program():
    results = run_at_once(3, lambda _i: recipe_load(name="family_of_brands"))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(len(r.keys) for r in results) == [0, 0, 3]  # one load made the shops and their keys
    assert sorted(bool(r.changes) for r in results) == [False, False, True]
    assert Shop.objects.filter(name__startswith="Family").count() == 3
    assert Reward.objects.count() == 2


@pytest.mark.parametrize(
    ("part", "spec", "message"),
    [
        ("tiers", {"name": "Base", "rank": 0, "colour": "red"}, "colour"),
        ("earning_rules", {"name": "Elsewhere", "kind": "base_rate", "shops": ["nowhere"]}, "unknown shop"),
        ("rewards", {"title": "VIP gift", "kind": "perk", "points": 10, "min_tier": "VIP"}, "unknown tier"),
    ],
)
def test_a_broken_recipe_is_refused_and_writes_nothing(monkeypatch, part, spec, message):
    broken = dataclasses.replace(recipe_get("fashion_brand"), **{part: (spec,)})
    monkeypatch.setattr("rewards.services.recipes.recipe_get", lambda name: broken)
    with pytest.raises(ApplicationError, match=message) as info:
        recipe_load(name="fashion_brand")
    assert info.value.code == "invalid_recipe"
    assert not Shop.objects.exists()
    assert program_get().name == "Loyalty program"
