"""Load a program recipe (rewards.recipes): the program's settings, its shops, earning and event rules,
tiers, segments, campaigns, causes and rewards, all in one transaction (docs/recipes.md).

What loading does:

- **Replaces the configuration.** Afterwards the program is the recipe: its settings (every setting the
  recipe leaves out goes back to its default), and exactly the recipe's earning rules, event rules, tiers,
  campaigns, causes and rewards. Parts the recipe names are created or updated in place (found by their
  name, or a reward by its title); parts it does not name are removed, or paused when history refers to
  them (an event rule with awards, a campaign that gave points, a reward that was redeemed, a cause that
  was given to). A tier the recipe does not name is removed only if no member, history or hold refers to
  it; otherwise the load refuses (tiers have no "paused" state and members cannot be left without one).
- **Never removes** shops, members, their points, orders or history. Shops the recipe names are created
  (with an API key, returned once) or updated; other shops are left as they are. Segments the recipe names
  are created or updated; other rule segments are removed once no campaign or reward targets them, and
  static segments (uploaded lists of members) are left as they are.
- **Is idempotent**: loading the same recipe again changes nothing and reports nothing to change. A
  campaign's dates are set when it is first created (from that day's local midnight) and never moved by
  a later load.
- **Refuses on a program with activity** (orders, point entries, redemptions, store credit or recorded
  events) when it would change anything, unless `replace=True`: the error lists the activity and the
  changes it would make. Loading the recipe that is already loaded is always allowed: it changes nothing.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from core.exceptions import ApplicationError
from integrations.models import Order, Shop
from integrations.services.shops import api_key_create, shop_create
from rewards.models import (
    Campaign,
    CampaignMember,
    Cause,
    EarningRule,
    EventAward,
    EventRule,
    MemberEvent,
    PointEntry,
    Program,
    Redemption,
    Reward,
    Segment,
    StoreCreditEntry,
    Tier,
    TierChange,
    TierHold,
)
from rewards.recipes import Recipe, recipe_get
from rewards.selectors import program_get

KEY_NAME = "Created by program_load"
# Program settings a recipe decides; the others (staff_adjust_limit) are the operator's, left as they are.
PROGRAM_FIELDS = (
    "name",
    "currency",
    "time_zone",
    "expiry_policy",
    "expiry_period",
    "pending_days",
    "rounding",
    "signup_bonus",
    "reversal_policy",
    "transfers_enabled",
    "cancelled_order_coupons",
)
_TEMP_RANK = 1_000_000  # tiers move out of the way here while ranks are swapped (ranks are unique)


@dataclass
class RecipeLoad:
    """What a load did (or, refused or dry-run, would do)."""

    recipe: Recipe
    changes: list[str] = field(default_factory=list)  # one line per change, in plain words
    shops: list[Shop] = field(default_factory=list)  # the recipe's shops, in its order
    keys: list[tuple[Shop, str]] = field(default_factory=list)  # (shop, plaintext API key), shown once
    activity: dict[str, int] = field(default_factory=dict)
    applied: bool = False


class _Rollback(Exception):
    pass


def program_activity() -> dict[str, int]:
    """How much real use the program has seen: the kinds of rows a configuration change would affect."""
    counts = {
        "orders": Order.objects.count(),
        "point entries": PointEntry.objects.count(),
        "redemptions": Redemption.objects.count(),
        "store credit entries": StoreCreditEntry.objects.count(),
        "member events": MemberEvent.objects.count(),
    }
    return {name: n for name, n in counts.items() if n}


def recipe_load(
    *,
    name: str,
    replace: bool = False,
    dry_run: bool = False,
    new_keys: bool = False,
) -> RecipeLoad:
    """Make the program what recipe `name` describes, in one transaction; idempotent. Refuses (422
    `program_has_activity`) when the program has activity and the load would change it, unless `replace`.
    `dry_run` works out the changes and writes nothing. API keys are made for shops the load creates (and
    for every recipe shop with `new_keys`); their plaintext is in the result, once."""
    recipe = recipe_get(name)
    result = RecipeLoad(recipe=recipe)
    try:
        with transaction.atomic():
            _Loader(recipe, result, new_keys=new_keys).run()
            result.activity = program_activity()  # counted under the program's lock that run() took
            if dry_run:
                raise _Rollback
            if result.changes and result.activity and not replace:
                raise _Rollback
    except _Rollback:
        result.keys = []
        if dry_run:
            return result
        raise ApplicationError(
            f"The program has activity ({_counts(result.activity)}); loading {recipe.name} would change "
            f"{len(result.changes)} thing(s) of its configuration. Load it with replace (--replace) to do it anyway.",
            code="program_has_activity",
            extra={"activity": result.activity, "changes": result.changes},
        ) from None
    result.applied = True
    return result


def _counts(activity: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {what}" for what, n in activity.items())


def _differs(obj: models.Model, wanted: dict) -> list[str]:
    """The fields of `obj` that differ from `wanted`, after setting them on `obj`."""
    changed = []
    for name, value in wanted.items():
        current = getattr(obj, name)
        same = current == value
        if isinstance(current, Decimal) or isinstance(value, Decimal):
            same = current is not None and value is not None and Decimal(current) == Decimal(value)
            same = same or (current is None and value is None)
        if not same:
            setattr(obj, name, value)
            changed.append(name)
    return changed


def _clean(obj: models.Model, what: str) -> None:
    """Field checks of the model (choices, validators); uniqueness is left to the database constraints."""
    try:
        obj.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())
        raise ApplicationError(f"The recipe's {what} is not valid: {problems}", code="invalid_recipe") from None


class _Loader:
    def __init__(self, recipe: Recipe, result: RecipeLoad, *, new_keys: bool):
        self.recipe = recipe
        self.result = result
        self.new_keys = new_keys
        self.shop_ids: dict[str, str] = {}  # ShopSpec key -> shop public id (string)
        self.shops: dict[str, Shop] = {}
        self.tiers: dict[str, Tier] = {}
        self.segments: dict[str, Segment] = {}
        self.causes: dict[str, Cause] = {}
        self.created: dict[type, set[int]] = {}  # pks of the rows this load created, by model
        self.reason = f"program_load {recipe.name}"

    def note(self, line: str) -> None:
        self.result.changes.append(line)

    def stamp(self, obj: models.Model) -> models.Model:
        """The reason the configuration history (django-simple-history) keeps with this save or delete."""
        obj._change_reason = self.reason
        return obj

    def run(self) -> None:
        program_get()
        # Two loads at once take turns on the program's row (each sees what the other made).
        Program.objects.select_for_update().get(pk=1)
        self.program()
        self.load_shops()
        self.earning_rules()
        self.event_rules()
        # Rewards go before tiers and causes: a removed reward may be what refers to a removed tier or cause.
        self.rewards_removed()
        self.load_tiers()
        self.load_segments()
        self.load_campaigns()
        self.load_causes()
        self.load_rewards()
        self.segments_removed()

    # --- settings and shops ---------------------------------------------------------------------------

    def program(self) -> None:
        program = program_get()
        wanted = {"name": self.recipe.title}
        for name in PROGRAM_FIELDS[1:]:
            wanted[name] = self.recipe.program.get(name, Program._meta.get_field(name).get_default())
        unknown = set(self.recipe.program) - set(PROGRAM_FIELDS)
        if unknown:
            raise ApplicationError(f"Unknown program settings: {', '.join(sorted(unknown))}.", code="invalid_recipe")
        changed = _differs(program, wanted)
        if changed:
            _clean(program, "program settings")
            self.stamp(program).save()
            self.note(f"Program settings: {', '.join(f'{n} = {getattr(program, n)}' for n in changed)}")

    def load_shops(self) -> None:
        program = program_get()
        for spec in self.recipe.shops:
            shop = Shop.objects.filter(name=spec.name).first()
            if shop is None:
                shop = shop_create(
                    name=spec.name, kind=spec.kind, currency=program.currency, time_zone=program.time_zone
                )
                self.note(f"Shop {spec.name}: created ({shop.get_kind_display()})")
                self._key(shop)
            else:
                changed = _differs(
                    shop,
                    {"kind": spec.kind, "currency": program.currency, "time_zone": program.time_zone},
                )
                if changed:
                    shop.full_clean()
                    self.stamp(shop).save()
                    self.note(f"Shop {spec.name}: {', '.join(changed)} updated")
                if self.new_keys:
                    self._key(shop)
            self.shops[spec.key] = shop
            self.shop_ids[spec.key] = str(shop.public_id)
            self.result.shops.append(shop)

    def _key(self, shop: Shop) -> None:
        _, plaintext = api_key_create(shop=shop, name=KEY_NAME, scopes=("read", "write"))
        self.result.keys.append((shop, plaintext))

    def _shop_ids(self, spec: dict) -> list[str]:
        try:
            return [self.shop_ids[key] for key in spec.get("shops", ())]
        except KeyError as error:
            raise ApplicationError(f"The recipe names an unknown shop {error}.", code="invalid_recipe") from None

    # --- a generic "make these rows exactly the recipe's" -----------------------------------------------

    def _sync(self, model, specs, *, key: str, what: str, build, leftover) -> dict[str, models.Model]:
        """Create or update one row per spec (found by its `key` field), then hand every other row of the
        model to `leftover` (remove or pause). Returns the rows by key."""
        existing: dict[str, models.Model] = {}
        extra: list[models.Model] = []
        for obj in model.objects.order_by("pk"):
            name = getattr(obj, key)
            if name in existing:
                extra.append(obj)  # a second row of the same name: not the recipe's
            else:
                existing[name] = obj
        wanted_names = [spec[key] for spec in specs]
        for obj_name, obj in existing.items():
            if obj_name not in wanted_names:
                extra.append(obj)
        for obj in extra:
            leftover(obj)
        rows = {}
        for spec in specs:
            obj = existing.get(spec[key])
            fields = build(spec)
            if obj is None:
                obj = model(**fields)
                _clean(obj, f"{what} {spec[key]!r}")
                self.stamp(obj).save()
                self.created.setdefault(model, set()).add(obj.pk)
                self.note(f"{what.capitalize()} {spec[key]!r}: created")
            else:
                changed = _differs(obj, fields)
                if changed:
                    _clean(obj, f"{what} {spec[key]!r}")
                    self.stamp(obj).save()
                    self.note(f"{what.capitalize()} {spec[key]!r}: {', '.join(changed)} updated")
            rows[spec[key]] = obj
        return rows

    def _defaults(self, model, spec: dict, *, skip=()) -> dict:
        """The spec's fields, every other editable field of the model at its default (so a load resets what
        an earlier recipe or staff set and this recipe does not)."""
        out = {}
        for f in model._meta.concrete_fields:
            if f.primary_key or not f.editable or f.name in skip or isinstance(f, models.ForeignKey):
                continue
            if f.name in ("public_id", "created_at", "updated_at"):
                continue
            out[f.name] = spec[f.name] if f.name in spec else f.get_default()
        return out

    def _remove_or_pause(self, obj, *, what: str, label: str, used: bool, flag: str) -> None:
        if not used:
            self.stamp(obj).delete()
            self.note(f"{what.capitalize()} {label!r}: removed")
        elif getattr(obj, flag):
            setattr(obj, flag, False)
            self.stamp(obj).save()
            self.note(f"{what.capitalize()} {label!r}: paused (history refers to it)")

    # --- rules ----------------------------------------------------------------------------------------

    def earning_rules(self) -> None:
        currency = program_get().currency

        def build(spec):
            out = self._defaults(EarningRule, spec, skip=("shops",))
            out["currency"] = spec.get("currency", currency)
            out["shop_ids"] = self._shop_ids(spec)
            return out

        def leftover(rule):
            # Orders keep the breakdown they earned by, so a rule can go without losing history.
            self.stamp(rule).delete()
            self.note(f"Earning rule {rule.name!r}: removed")

        self._sync(
            EarningRule, self.recipe.earning_rules, key="name", what="earning rule", build=build, leftover=leftover
        )

    def event_rules(self) -> None:
        def build(spec):
            out = self._defaults(EventRule, spec)
            out["shop_ids"] = self._shop_ids(spec)
            return out

        def leftover(rule):
            used = EventAward.objects.filter(rule=rule).exists()  # deleting would restart its limits
            self._remove_or_pause(rule, what="event rule", label=rule.name, used=used, flag="is_active")

        self._sync(EventRule, self.recipe.event_rules, key="name", what="event rule", build=build, leftover=leftover)

    # --- tiers ----------------------------------------------------------------------------------------

    def load_tiers(self) -> None:
        specs = self.recipe.tiers
        wanted = {spec["name"] for spec in specs}
        kept_titles = [spec["title"] for spec in self.recipe.rewards]
        existing = {t.name: t for t in Tier.objects.all()}
        in_use = []
        for tier in existing.values():
            if tier.name in wanted:
                continue
            # A reward the recipe keeps gets its own minimum tier below; it does not hold this one.
            Reward.objects.filter(min_tier=tier, title__in=kept_titles).update(min_tier=None)
            if _tier_used(tier):
                in_use.append(tier.name)
                continue
            self.stamp(tier).delete()
            self.note(f"Tier {tier.name!r}: removed")
        if in_use:
            raise ApplicationError(
                f"The tiers {', '.join(sorted(in_use))} are not in the recipe but members, their tier history or "
                "rewards refer to them, so they cannot be removed. Rename a recipe's tier to them in the admin, or "
                "load a recipe with these tiers.",
                code="tiers_in_use",
                extra={"tiers": sorted(in_use)},
            )
        fields = {spec["name"]: self._defaults(Tier, spec) for spec in specs}
        before = {name: {f: getattr(t, f) for f in fields[name]} for name, t in existing.items() if name in fields}
        # Ranks and membership SKUs are unique: move the tiers whose rank or SKU changes out of the way first.
        moving = [
            t
            for name, t in existing.items()
            if name in fields and (t.rank, t.membership_sku) != (fields[name]["rank"], fields[name]["membership_sku"])
        ]
        for n, tier in enumerate(moving):
            Tier.objects.filter(pk=tier.pk).update(rank=_TEMP_RANK + n, membership_sku="")
            tier.rank, tier.membership_sku = _TEMP_RANK + n, ""
        for spec in specs:
            name = spec["name"]
            tier = existing.get(name)
            if tier is None:
                tier = Tier(**fields[name])
                _clean(tier, f"tier {name!r}")
                self.stamp(tier).save()
                self.note(f"Tier {name!r}: created")
            elif _differs(tier, fields[name]):
                _clean(tier, f"tier {name!r}")
                self.stamp(tier).save()
                changed = [f for f, value in before[name].items() if getattr(tier, f) != value]
                self.note(f"Tier {name!r}: {', '.join(changed)} updated")
            self.tiers[name] = tier

    # --- segments and campaigns -------------------------------------------------------------------------

    def load_segments(self) -> None:
        existing = {s.name: s for s in Segment.objects.filter(name__in=[s["name"] for s in self.recipe.segments])}
        for spec in self.recipe.segments:
            want = self._defaults(Segment, spec)
            segment = existing.get(spec["name"])
            if segment is None:
                segment = Segment(**want)
                _clean(segment, f"segment {spec['name']!r}")
                self.stamp(segment).save()
                self.note(f"Segment {spec['name']!r}: created")
            else:
                changed = _differs(segment, want)
                if changed:
                    _clean(segment, f"segment {spec['name']!r}")
                    self.stamp(segment).save()
                    self.note(f"Segment {spec['name']!r}: {', '.join(changed)} updated")
            self.segments[spec["name"]] = segment

    def segments_removed(self) -> None:
        """Rule segments the recipe does not name go when no campaign or reward targets them any more; static
        segments (uploaded lists of members) stay."""
        unused = (
            Segment.objects.filter(kind=Segment.Kind.RULES, campaigns__isnull=True)
            .exclude(name__in=[spec["name"] for spec in self.recipe.segments])
            .exclude(pk__in=Reward.segments.through.objects.values("segment_id"))
        )
        for segment in unused.order_by("pk"):
            self.stamp(segment).delete()
            self.note(f"Segment {segment.name!r}: removed")

    def _segments_of(self, spec: dict) -> set[int]:
        try:
            return {self.segments[name].pk for name in spec.get("segments", ())}
        except KeyError as error:
            raise ApplicationError(f"The recipe names an unknown segment {error}.", code="invalid_recipe") from None

    def load_campaigns(self) -> None:
        program = program_get()
        zone = ZoneInfo(program.time_zone)
        today = timezone.now().astimezone(zone).date()
        existing_windows = {c.name: (c.starts_at, c.ends_at) for c in Campaign.objects.all()}

        def build(spec):
            out = self._defaults(Campaign, spec, skip=("segments", "shops", "days", "starts_in_days", "points_given"))
            out["shop_ids"] = self._shop_ids(spec)
            if spec["name"] in existing_windows:  # dates are set once, when the campaign is first made
                out["starts_at"], out["ends_at"] = existing_windows[spec["name"]]
            else:
                start_day = today + dt.timedelta(days=spec.get("starts_in_days", 0))
                out["starts_at"] = dt.datetime.combine(start_day, dt.time(0), tzinfo=zone)
                out["ends_at"] = out["starts_at"] + dt.timedelta(days=spec["days"])
            return out

        def leftover(campaign):
            used = campaign.points_given > 0 or CampaignMember.objects.filter(campaign=campaign).exists()
            self._remove_or_pause(campaign, what="campaign", label=campaign.name, used=used, flag="is_active")

        rows = self._sync(Campaign, self.recipe.campaigns, key="name", what="campaign", build=build, leftover=leftover)
        for spec in self.recipe.campaigns:
            self._m2m(rows[spec["name"]], "segments", self._segments_of(spec), label=f"Campaign {spec['name']!r}")

    def _m2m(self, obj, field_name: str, wanted: set[int], *, label: str) -> None:
        manager = getattr(obj, field_name)
        current = set(manager.values_list("pk", flat=True))
        if current != wanted:
            manager.set(sorted(wanted))
            if obj.pk not in self.created.get(type(obj), set()):
                self.note(f"{label}: {field_name} updated")

    # --- causes and rewards -----------------------------------------------------------------------------

    def load_causes(self) -> None:
        def leftover(cause):
            used = Redemption.objects.filter(cause=cause).exists() or Reward.objects.filter(cause=cause).exists()
            self._remove_or_pause(cause, what="cause", label=cause.name, used=used, flag="active")

        def build(spec):
            return self._defaults(Cause, spec)

        self.causes = self._sync(Cause, self.recipe.causes, key="name", what="cause", build=build, leftover=leftover)

    def rewards_removed(self) -> None:
        wanted = {spec["title"] for spec in self.recipe.rewards}
        seen = set()
        for reward in Reward.objects.order_by("pk"):
            if reward.title in wanted and reward.title not in seen:
                seen.add(reward.title)
                continue
            used = Redemption.objects.filter(reward=reward).exists()
            self._remove_or_pause(reward, what="reward", label=reward.title, used=used, flag="active")

    def load_rewards(self) -> None:
        existing = {}
        for reward in Reward.objects.order_by("pk"):
            existing.setdefault(reward.title, reward)
        for spec in self.recipe.rewards:
            label = f"reward {spec['title']!r}"
            want = self._defaults(
                Reward, spec, skip=("shops", "segments", "min_tier", "cause", "units_issued", "stock_total")
            )
            want["stock_total"] = spec.get("stock_total")
            want["min_tier"] = self._named(self.tiers, spec.get("min_tier"), "tier")
            want["cause"] = self._named(self.causes, spec.get("cause"), "cause")
            reward = existing.get(spec["title"])
            if reward is None:
                reward = Reward(**want)
                _clean(reward, label)
                self.stamp(reward).save()
                self.created.setdefault(Reward, set()).add(reward.pk)
                self.note(f"Reward {spec['title']!r}: created")
            else:
                changed = _differs(reward, want)
                if changed:
                    _clean(reward, label)
                    self.stamp(reward).save()
                    self.note(f"Reward {spec['title']!r}: {', '.join(changed)} updated")
            shop_pks = {self.shops[key].pk for key in spec.get("shops", ())}
            self._m2m(reward, "shops", shop_pks, label=f"Reward {spec['title']!r}")
            self._m2m(reward, "segments", self._segments_of(spec), label=f"Reward {spec['title']!r}")

    def _named(self, rows: dict, name: str | None, what: str):
        if name is None:
            return None
        if name not in rows:
            raise ApplicationError(f"The recipe names an unknown {what} {name!r}.", code="invalid_recipe")
        return rows[name]


def _tier_used(tier: Tier) -> bool:
    from rewards.models import PointsAccount

    return (
        PointsAccount.objects.filter(tier=tier).exists()
        or TierChange.objects.filter(models.Q(from_tier=tier) | models.Q(to_tier=tier)).exists()
        or TierHold.objects.filter(models.Q(override_tier=tier) | models.Q(floor_tier=tier)).exists()
        or Reward.objects.filter(min_tier=tier).exists()
    )
