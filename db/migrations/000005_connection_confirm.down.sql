DROP INDEX IF EXISTS gw_installations_pending_expires_at_idx;
ALTER TABLE lightfast_gw_installations DROP COLUMN IF EXISTS pending_expires_at;
