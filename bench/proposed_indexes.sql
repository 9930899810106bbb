-- An index change proposed for the ledger's sweeps (not a migration): measure it with
--   .venv/bin/python bench/expiry_sweep.py --sql bench/proposed_indexes.sql --database bench_sweep_idx
-- A swept lot gets a new row version, and PostgreSQL adds that to every index of the table whose
-- predicate it meets (a state change is never a HOT update), so each index costs the sweeps per lot.
-- (Migration 0003 already made the due-date indexes partial and dropped two redundant ones.)

-- Unused: nothing looks lots up by created_at (the index comes from BaseModel's db_index=True).
DROP INDEX IF EXISTS rewards_pointlot_created_at_d70ac450;
