"""Admin screens for campaigns and segments (docs/campaigns.md).

Campaigns: the list shows each one's window, budget used and left, and members reached; the form checks
what each kind needs. Segments: rules as JSON (the help under the field lists them), the audience counted
when the page is shown, and for static segments a CSV of member numbers uploaded from the same form.
"""

import re

from django import forms
from django.contrib import admin, messages
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.exceptions import ApplicationError
from rewards.admin import NamesField, ProgramTimeZoneMixin, ShopIdsField
from rewards.admin.history import ConfigHistoryAdmin
from rewards.models import Campaign, Segment
from rewards.selectors.campaigns import campaign_description, campaign_preview, campaigns_with_figures
from rewards.services.campaigns import campaign_points_given_sync
from rewards.services.segments import segment_members, segment_members_upload, segment_rules_validate

KEPT_FIELDS = ("id", "public_id", "created_at", "points_given")  # never written by the campaign form
CSV_MAX_BYTES = 5 * 1024 * 1024  # about 300,000 member numbers

RULES_HELP = """A list of conditions; a member is in the segment when all of them hold. Examples:
[{"rule": "tier", "tiers": ["Gold"]},
 {"rule": "spend", "min": "500", "days": 365},
 {"rule": "orders", "min": 3, "max": 10, "days": 90},
 {"rule": "last_order", "within_days": 30}   (or "not_within_days": 180),
 {"rule": "last_activity", "not_within_days": 90},
 {"rule": "birthday_month", "months": [12]},
 {"rule": "categories", "categories": ["shoes"], "days": 365},
 {"rule": "shop", "shop_ids": ["<shop id>"]},
 {"rule": "joined", "after": "2026-01-01", "before": "2027-01-01"},
 {"rule": "any", "groups": [[condition, ...], [condition, ...]]}]   (one group or another)"""


# --- segments ----------------------------------------------------------------------------------------


class SegmentForm(forms.ModelForm):
    rules = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 90, "style": "font-family: monospace"}),
        help_text=format_html("<pre style='white-space: pre-wrap'>{}</pre>", RULES_HELP),
    )
    upload = forms.FileField(
        required=False,
        label=_("CSV of member numbers"),
        help_text=_(
            "Static segments: a column headed 'number' (or the first column). The members are added to the "
            "segment; numbers of no member are listed after saving."
        ),
    )
    replace = forms.BooleanField(
        required=False, label=_("Replace the members"), help_text=_("Remove the members who are not in the file.")
    )

    class Meta:
        model = Segment
        fields = ("name", "description", "kind", "rules")

    def clean_rules(self):
        rules = self.cleaned_data.get("rules")
        rules = [] if rules in (None, "") else rules
        try:
            segment_rules_validate(rules)
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from None
        return rules

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload is None:
            return None
        if upload.size > CSV_MAX_BYTES:
            raise forms.ValidationError(_("The file is too large (at most 5 MB)."))
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(_("Save the file as CSV in UTF-8.")) from None

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("upload") and cleaned.get("kind") != Segment.Kind.STATIC:
            self.add_error("upload", _("Only a static segment takes a list of members."))
        if cleaned.get("kind") == Segment.Kind.RULES and not cleaned.get("rules"):
            self.add_error("rules", _("A rule segment needs at least one condition (or it would hold everyone)."))
        return cleaned


@admin.register(Segment)
class SegmentAdmin(ConfigHistoryAdmin):
    form = SegmentForm
    list_display = ("name", "kind", "campaigns_display", "updated_at")
    list_filter = ("kind",)
    search_fields = ("name",)
    readonly_fields = ("audience", "public_id", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "description", "kind", "audience")}),
        (_("Rules (rule segments)"), {"fields": ("rules",)}),
        (_("Members (static segments)"), {"fields": ("upload", "replace")}),
        (_("Record"), {"classes": ("collapse",), "fields": ("public_id", "created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("campaigns")

    @admin.display(description=_("campaigns"))
    def campaigns_display(self, segment):
        return ", ".join(c.name for c in segment.campaigns.all()) or "-"

    @admin.display(description=_("audience now"))
    def audience(self, segment):
        """Counted when the page is shown (one COUNT over the segment's queryset)."""
        if segment.pk is None:
            return _("Counted once the segment is saved.")
        try:
            count = segment_members(segment).count()
        except ApplicationError as error:
            return format_html("<span style='color: #ba2121'>{}</span>", error.message)
        return _("%(count)s members") % {"count": count}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        text = form.cleaned_data.get("upload")
        if not text:
            return
        result = segment_members_upload(segment=obj, text=text, replace=form.cleaned_data.get("replace", False))
        messages.success(
            request,
            _("%(added)s members added, %(already)s already in the segment, %(unknown)s numbers unknown.")
            % {"added": result.added, "already": result.already, "unknown": len(result.unknown)},
        )
        if result.unknown:
            shown = ", ".join(result.unknown[:50]) + (" ..." if len(result.unknown) > 50 else "")
            messages.warning(request, _("Unknown member numbers: %(numbers)s") % {"numbers": shown})


# --- campaigns ---------------------------------------------------------------------------------------


class CampaignForm(forms.ModelForm):
    categories = NamesField(required=False, help_text=_("Product bonuses: one per line, as your shops name them."))
    skus = NamesField(required=False, help_text=_("Product bonuses: one per line."))
    shop_ids = ShopIdsField(required=False, label=_("shops"), help_text=_("Shop ids, one per line. Empty: every shop."))

    class Meta:
        model = Campaign
        fields = (
            "name",
            "description",
            "kind",
            "is_active",
            "starts_at",
            "ends_at",
            "factor",
            "points",
            "categories",
            "skus",
            "event",
            "currency",
            "shop_ids",
            "segments",
            "budget",
            "member_limit",
        )

    def clean_currency(self):
        currency = (self.cleaned_data.get("currency") or "").strip().upper()
        if currency and not re.fullmatch(r"[A-Z]{3}", currency):
            raise forms.ValidationError(_("Enter a three-letter ISO 4217 code, e.g. EUR, or leave it empty."))
        return currency

    def clean_event(self):
        return (self.cleaned_data.get("event") or "").strip()

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        starts, ends = cleaned.get("starts_at"), cleaned.get("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("The campaign must end after it starts."))
        products = kind in (Campaign.Kind.PRODUCT_MULTIPLIER, Campaign.Kind.PRODUCT_POINTS)
        if products and not (cleaned.get("categories") or cleaned.get("skus")):
            self.add_error("categories", _("Name the categories or SKUs the bonus is for."))
        if kind in (Campaign.Kind.PRODUCT_POINTS, Campaign.Kind.ACTION_BONUS) and not cleaned.get("points"):
            self.add_error("points", _("Give the bonus points (more than 0)."))
        if kind == Campaign.Kind.ACTION_BONUS:
            if not cleaned.get("event"):
                self.add_error("event", _("Name the action (event) the bonus is for."))
            points = cleaned.get("points")
            if points and points != points.to_integral_value():
                self.add_error("points", _("An action bonus gives whole points."))
        budget, limit = cleaned.get("budget"), cleaned.get("member_limit")
        if self.instance.pk and self.instance.budget is not None and budget is not None:
            given = Campaign.objects.filter(pk=self.instance.pk).values_list("points_given", flat=True).first() or 0
            if budget < given:
                self.add_error("budget", _("The campaign has already given %(given)s points.") % {"given": given})
        if budget is not None and limit is not None and limit > budget:
            self.add_error("member_limit", _("The per-member limit cannot be larger than the whole budget."))
        return cleaned


@admin.register(Campaign)
class CampaignAdmin(ProgramTimeZoneMixin, ConfigHistoryAdmin):
    form = CampaignForm
    list_display = (
        "name",
        "kind",
        "window_display",
        "is_active",
        "given_display",
        "budget_display",
        "members_display",
        "segments_display",
    )
    list_filter = ("is_active", "kind")
    search_fields = ("name",)
    filter_horizontal = ("segments",)
    readonly_fields = ("for_members", "preview", "figures", "public_id", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "kind", "is_active", "description", "for_members")}),
        (_("When"), {"fields": ("starts_at", "ends_at")}),
        (
            _("What it gives"),
            {
                "description": _(
                    "Order multiplier: <b>factor</b> times the order's points (2 = double points). Product "
                    "multiplier: <b>factor</b> times the base points of the products named. Fixed bonus: "
                    "<b>points</b> per unit of those products. Action bonus: <b>points</b> for the <b>event</b>."
                ),
                "fields": ("factor", "points", "categories", "skus", "event", "preview"),
            },
        ),
        (_("Who and where"), {"fields": ("segments", "shop_ids", "currency")}),
        (_("Budget"), {"fields": ("budget", "member_limit", "figures")}),
        (_("Record"), {"classes": ("collapse",), "fields": ("public_id", "created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        return campaigns_with_figures(super().get_queryset(request)).prefetch_related("segments")

    @admin.display(description=_("window"), ordering="starts_at")
    def window_display(self, campaign):
        return f"{date_format(campaign.starts_at, 'SHORT_DATETIME_FORMAT')} - " + date_format(
            campaign.ends_at, "SHORT_DATETIME_FORMAT"
        )

    @admin.display(description=_("points given"), ordering="given_points")
    def given_display(self, campaign):
        return campaign.given_points

    @admin.display(description=_("budget used / left"))
    def budget_display(self, campaign):
        if campaign.budget is None:
            return _("no budget")
        return f"{campaign.points_given} / {campaign.budget - campaign.points_given}"

    @admin.display(description=_("members reached"), ordering="members_count")
    def members_display(self, campaign):
        return campaign.members_count

    @admin.display(description=_("segments"))
    def segments_display(self, campaign):
        return ", ".join(s.name for s in campaign.segments.all()) or _("everyone")

    @admin.display(description=_("as members read it"))
    def for_members(self, campaign):
        return campaign_description(campaign) if campaign.pk else "-"

    @admin.display(description=_("a sample order"))
    def preview(self, campaign):
        """What a sample order earns with the campaign, as saved (today's earning rules, at its start)."""
        if campaign.pk is None or campaign.kind == Campaign.Kind.ACTION_BONUS:
            return "-"
        sample = campaign_preview(campaign)
        if sample is None:
            return _("No earning rule yet: nothing to show.")
        return _(
            "An order of %(total)s %(currency)s (%(line)s) earns %(points)s points, %(extra)s of them from this "
            "campaign (before any budget or limit)."
        ) % {
            "total": sample.order_total,
            "currency": sample.currency,
            "line": sample.line,
            "points": sample.points,
            "extra": sample.campaign_points,
        }

    @admin.display(description=_("given so far"))
    def figures(self, campaign):
        if campaign.pk is None:
            return "-"
        rows = [
            (_("points given"), campaign.given_points),
            (_("orders and actions"), campaign.given_times),
            (_("members reached"), campaign.members_count),
        ]
        if campaign.budget is not None:
            rows.append((_("budget left"), campaign.budget - campaign.points_given))
        return format_html(
            "<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((str(k), v) for k, v in rows))
        )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.save()
            return
        # Never write points_given from the form's copy: orders move it meanwhile, under the row lock.
        fields = [f.name for f in Campaign._meta.concrete_fields if f.name not in KEPT_FIELDS]
        newly_budgeted = obj.budget is not None and form.initial.get("budget") is None
        if newly_budgeted:
            obj.points_given = 0  # the counter ran idle without a budget; counted again just below
            fields.append("points_given")
        obj.save(update_fields=fields)
        if newly_budgeted:
            # Only budgeted campaigns keep the counter: a budget set on a running campaign starts from what
            # it gave so far (CampaignMember).
            campaign_points_given_sync(campaign=obj)
            if obj.points_given >= obj.budget:
                messages.warning(request, _("This campaign has already given its whole budget."))
