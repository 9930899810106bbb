-- Index changes proposed for the ledger's sweeps (not a migration): try them with
--   .venv/bin/python bench/expiry_sweep.py --sql bench/proposed_indexes.sql
-- A swept lot gets a new row version, and PostgreSQL adds it to every index of the table whose
-- predicate it meets (a state change is never a HOT update). Fewer and partial indexes mean less work
-- per lot, and expired, spent and reversed lots (most lots, in time) no longer fill the sweeps' indexes.

-- Partial: only live lots are ever looked up by expiry or release date.
DROP INDEX lot_expire_due_idx;
CREATE INDEX lot_expire_due_idx ON rewards_pointlot (expires_at) WHERE state = 'available';
DROP INDEX lot_release_due_idx;
CREATE INDEX lot_release_due_idx ON rewards_pointlot (available_at) WHERE state = 'pending';

-- Redundant: lot_account_spend_idx (account_id, state, expires_at) starts with account_id.
DROP INDEX rewards_pointlot_account_id_0010b0e5;
-- Unused: nothing looks lots up by created_at (the index comes from BaseModel's db_index).
DROP INDEX rewards_pointlot_created_at_d70ac450;
-- Redundant: movement_entry_lot_unique (entry_id, lot_id) starts with entry_id.
DROP INDEX rewards_pointmovement_entry_id_7b9abbfc;
