"""manage.py shop_create NAME [--currency EUR] [--kind web] [--time-zone UTC] [--scopes read,write]"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core.exceptions import ApplicationError
from integrations.models import SCOPES, Shop
from integrations.services.shops import api_key_create, shop_create


class Command(BaseCommand):
    help = "Create a shop and print a new API key for it. The key is shown only this once; keep it safe."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--currency", default="EUR", help="ISO 4217 code (default EUR)")
        parser.add_argument("--kind", default=Shop.Kind.WEB, choices=Shop.Kind.values, help="default web")
        parser.add_argument("--time-zone", default="UTC", help="IANA name, e.g. Europe/Amsterdam (default UTC)")
        parser.add_argument("--origin", action="append", default=[], help="allowed widget origin (repeatable)")
        parser.add_argument(
            "--scopes", default="read,write", help=f"comma-separated, of {', '.join(SCOPES)} (default read,write)"
        )
        parser.add_argument("--key-name", default="Created by shop_create", help="label of the API key")

    def handle(self, *args, **options):
        try:
            with transaction.atomic():  # no shop without its key
                shop = shop_create(
                    name=options["name"],
                    kind=options["kind"],
                    currency=options["currency"],
                    time_zone=options["time_zone"],
                    allowed_origins=options["origin"],
                )
                api_key, plaintext = api_key_create(
                    shop=shop, name=options["key_name"], scopes=options["scopes"].split(",")
                )
        except ValidationError as error:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
            raise CommandError(problems) from None
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self.stderr.write(
            f"Created shop {shop.name} ({shop.get_kind_display()}, {shop.currency}, {shop.time_zone}), "
            f"id {shop.public_id}, and API key {api_key.prefix}… with scopes {','.join(api_key.scopes)}.\n"
            "The key below is shown only this once:"
        )
        self.stdout.write(plaintext)
