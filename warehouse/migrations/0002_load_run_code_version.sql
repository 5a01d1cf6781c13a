-- Migration 0002: which release ran each load attempt. After an upgrade in place, a
-- refused or crashed attempt must say whether the old or the new code made it
-- (meta.build.code_version says it only for published builds).
ALTER TABLE audit.load_run ADD COLUMN IF NOT EXISTS code_version VARCHAR;
