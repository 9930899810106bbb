from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Members"

    def ready(self):
        from allauth.account.signals import email_confirmed

        from members.adapters import orders_match_on_email_confirmed

        email_confirmed.connect(orders_match_on_email_confirmed, dispatch_uid="members.orders_match_on_email_confirmed")
