"""manage.py program_load NAME [--replace] [--dry-run] [--new-keys] | program_load --list

Loads a program recipe (rewards.recipes, docs/recipes.md): settings, shops, rules, tiers, campaigns and
rewards. Prints what it changes, then an API key for each shop it created (shown only this once).
"""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import ApplicationError
from rewards.recipes import recipes_all
from rewards.services.recipes import recipe_load


class Command(BaseCommand):
    help = (
        "Load a complete example program (a recipe): settings, shops, earning and event rules, tiers, campaigns "
        "and rewards. It replaces the program's configuration; on a program with activity it refuses unless "
        "--replace is given. --list shows the recipes."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="the recipe, e.g. department_store (see --list)")
        parser.add_argument("--list", action="store_true", help="list the recipes with a line on each")
        parser.add_argument(
            "--replace",
            "--force",
            action="store_true",
            dest="replace",
            help="replace the configuration even though the program has orders, points or redemptions",
        )
        parser.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
        parser.add_argument(
            "--new-keys", action="store_true", help="also make a new API key for recipe shops that already exist"
        )

    def handle(self, *args, **options):
        if options["list"]:
            recipes = recipes_all()
            width = max(len(r.name) for r in recipes)
            for recipe in recipes:
                self.stdout.write(f"{recipe.name.ljust(width)}  {recipe.summary}")
            return
        if not options["name"]:
            raise CommandError("Give a recipe's name, or --list to see them.")
        try:
            result = recipe_load(
                name=options["name"],
                replace=options["replace"],
                dry_run=options["dry_run"],
                new_keys=options["new_keys"],
            )
        except ApplicationError as error:
            message = error.message
            changes = (error.extra or {}).get("changes") or []
            if changes:
                message += "\nIt would change:\n" + "\n".join(f"  {line}" for line in changes)
            raise CommandError(message) from None

        recipe = result.recipe
        verb = "Would load" if options["dry_run"] else "Loaded"
        self.stderr.write(f"{verb} recipe {recipe.name}: {recipe.title}.")
        for line in result.changes:
            self.stderr.write(f"  {line}")
        if not result.changes:
            self.stderr.write("  Nothing to change: the program already is this recipe.")
        elif options["dry_run"]:
            self.stderr.write("Dry run: nothing was written.")
            if result.activity and not options["replace"]:
                activity = ", ".join(f"{n:,} {what}" for what, n in result.activity.items())
                self.stderr.write(f"The program has activity ({activity}): loading it needs --replace.")
        else:
            self.stderr.write(f"{len(result.changes)} change(s).")
        for shop in result.shops:
            self.stderr.write(f"Shop {shop.name} ({shop.get_kind_display()}, {shop.currency}): id {shop.public_id}")
        if result.keys:
            self.stderr.write("API keys (read, write) below, one per shop, shown only this once; keep them safe:")
            for shop, plaintext in result.keys:
                self.stdout.write(f"{plaintext}  {shop.name}")
        elif result.applied:
            self.stderr.write(
                "The shops have their API keys from an earlier load; --new-keys makes new ones (or use the admin)."
            )
        self.stderr.write("See docs/recipes.md for what the recipe sets up.")
