-- The confirm step of a connection (SPEC §5.1, db/pending) and the provider revoke that follows a
-- teardown (installation.revoke, gateway).

-- name: LockInstallation :one
SELECT * FROM lightfast_gw_installations WHERE id = @id FOR UPDATE;

-- name: ActivatePendingInstallation :one
UPDATE lightfast_gw_installations
SET status = 'active', pending_expires_at = NULL, updated_at = now()
WHERE id = @id AND status = 'pending'
RETURNING *;

-- name: ClaimExpiredPendingInstallation :one
-- The sweep: one pending installation past its confirmation deadline (or without one), locked; rows
-- other replicas hold are skipped, so replicas share the work.
SELECT * FROM lightfast_gw_installations
WHERE status = 'pending' AND (pending_expires_at IS NULL OR pending_expires_at < @now::timestamptz)
ORDER BY pending_expires_at NULLS FIRST
LIMIT 1
FOR UPDATE SKIP LOCKED;

-- name: DeleteTokenOfRevokedInstallation :execrows
-- installation.revoke, after the provider call: the token goes, unless the installation was connected
-- again since (its token row is then the new connection's, with another version).
DELETE FROM lightfast_gw_tokens t
USING lightfast_gw_installations i
WHERE t.installation_id = @installation_id AND t.version = @version
  AND i.id = t.installation_id AND i.status = 'revoked';

-- name: DeleteRevokedInstallation :execrows
-- A connection removed before anyone confirmed it leaves no row in the org that never had it, unless
-- workspace integrations still refer to the row (an installation that had been connected before).
DELETE FROM lightfast_gw_installations i
WHERE i.id = @id AND i.status = 'revoked' AND i.status_reason = @status_reason
  AND NOT EXISTS (SELECT 1 FROM lightfast_workspace_integrations wi WHERE wi.installation_id = i.id)
  AND NOT EXISTS (SELECT 1 FROM lightfast_gw_tokens t WHERE t.installation_id = i.id);
