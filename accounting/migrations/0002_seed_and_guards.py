"""The default chart of accounts and policy row; on PostgreSQL the journal's guards:

- every journal entry balances (debits = credits per entry and currency), checked at commit by a deferred
  constraint trigger on journal lines, so a posting may insert its lines in any order within its transaction;
- journal entries and lines are append-only (UPDATE and DELETE refused; TRUNCATE, which tests use, is not
  a row operation);
- nothing is inserted into a closed period.

SQLite skips the triggers: the posting service asserts the balance in Python, and accounting_audit() checks it.
"""

from django.db import migrations

ACCOUNTS = [
    ("revenue", "4000", "Revenue"),
    ("breakage_revenue", "4050", "Breakage revenue"),
    ("contract_liability", "2450", "Contract liability: loyalty points"),
    ("provision", "2460", "Provision for loyalty rewards"),
    ("store_credit_liability", "2470", "Store credit liability"),
    ("rewards_clearing", "2480", "Rewards given: clearing"),
    ("loyalty_expense", "6100", "Loyalty and marketing expense"),
]

FORWARD_SQL = """
CREATE FUNCTION accounting_entry_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT currency, SUM(debit) AS d, SUM(credit) AS c INTO bad
    FROM accounting_journalline WHERE entry_id = NEW.entry_id
    GROUP BY currency HAVING SUM(debit) <> SUM(credit) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %: debits %, credits %',
            NEW.entry_id, bad.currency, bad.d, bad.c USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER accounting_journalline_balanced
    AFTER INSERT ON accounting_journalline
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION accounting_entry_balances();

CREATE FUNCTION accounting_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: post a correcting entry instead', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER accounting_journalline_append_only BEFORE UPDATE OR DELETE ON accounting_journalline
    FOR EACH ROW EXECUTE FUNCTION accounting_append_only();
CREATE TRIGGER accounting_journalentry_append_only BEFORE UPDATE OR DELETE ON accounting_journalentry
    FOR EACH ROW EXECUTE FUNCTION accounting_append_only();

CREATE FUNCTION accounting_period_open() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM accounting_accountingperiod WHERE id = NEW.period_id AND closed) THEN
        RAISE EXCEPTION 'accounting period % is closed', NEW.period_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER accounting_journalentry_period_open BEFORE INSERT ON accounting_journalentry
    FOR EACH ROW EXECUTE FUNCTION accounting_period_open();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS accounting_journalentry_period_open ON accounting_journalentry;
DROP FUNCTION IF EXISTS accounting_period_open();
DROP TRIGGER IF EXISTS accounting_journalentry_append_only ON accounting_journalentry;
DROP TRIGGER IF EXISTS accounting_journalline_append_only ON accounting_journalline;
DROP FUNCTION IF EXISTS accounting_append_only();
DROP TRIGGER IF EXISTS accounting_journalline_balanced ON accounting_journalline;
DROP FUNCTION IF EXISTS accounting_entry_balances();
"""


def seed(apps, schema_editor):
    Account = apps.get_model("accounting", "Account")
    for role, code, name in ACCOUNTS:
        Account.objects.get_or_create(role=role, defaults={"code": code, "name": name})
    apps.get_model("accounting", "AccountingPolicy").objects.get_or_create(pk=1)
    cursor = apps.get_model("accounting", "PostingCursor")
    for kind in ("point_entry", "store_credit_entry"):
        cursor.objects.get_or_create(source_kind=kind)


def guards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD_SQL, params=None)


def guards_reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("accounting", "0001_initial")]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(guards, guards_reverse),
    ]
