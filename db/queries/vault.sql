-- name: VaultRead :one
-- The vault read: the token and the state of its installation in one query.
SELECT sqlc.embed(t), i.provider, i.status AS installation_status, i.status_reason, i.org_id, i.external_id
FROM lightfast_gw_tokens t
JOIN lightfast_gw_installations i ON i.id = t.installation_id
WHERE t.installation_id = @installation_id;

-- name: VaultReadForIntegration :one
-- The vault read of a workspace integration's workers (backfill, sync): the token of the integration's
-- installation, only while that installation belongs to the integration's organisation.
SELECT sqlc.embed(t), i.provider, i.status AS installation_status, i.status_reason, i.org_id, i.external_id
FROM lightfast_workspace_integrations wi
JOIN lightfast_org_workspaces w ON w.id = wi.workspace_id
JOIN lightfast_gw_installations i ON i.id = wi.installation_id AND i.org_id = w.clerk_org_id
JOIN lightfast_gw_tokens t ON t.installation_id = i.id
WHERE wi.id = @integration_id;

-- name: LockTokenForRefresh :one
-- Taken inside the refresh transaction: replicas wanting the same refresh queue here, then re-read.
SELECT sqlc.embed(t), i.provider, i.status AS installation_status, i.status_reason, i.org_id, i.external_id
FROM lightfast_gw_tokens t
JOIN lightfast_gw_installations i ON i.id = t.installation_id
WHERE t.installation_id = @installation_id
FOR UPDATE OF t;

-- name: ClaimTokenDueForRefresh :one
-- Refresh-ahead: one token of an active installation expiring before @due, not failed since @retry_after,
-- locked for this worker; rows other replicas hold are skipped so the work is shared.
SELECT sqlc.embed(t), i.provider, i.status AS installation_status, i.status_reason, i.org_id, i.external_id
FROM lightfast_gw_tokens t
JOIN lightfast_gw_installations i ON i.id = t.installation_id
WHERE i.status = 'active'
  AND t.expires_at IS NOT NULL AND t.expires_at < @due
  AND (i.provider = 'github' OR t.refresh_token IS NOT NULL)
  AND (t.refresh_failed_at IS NULL OR t.refresh_failed_at < @retry_after)
ORDER BY t.expires_at
LIMIT 1
FOR UPDATE OF t SKIP LOCKED;

-- name: CompareAndSetToken :one
-- Write a refreshed token only if nobody wrote since @version was read; no row means a lost race.
UPDATE lightfast_gw_tokens SET
    access_token = @access_token,
    refresh_token = @refresh_token,
    expires_at = @expires_at,
    token_type = COALESCE(@token_type, token_type),
    scope = COALESCE(@scope, scope),
    version = version + 1,
    refresh_failed_at = NULL,
    refresh_error = NULL,
    updated_at = now()
WHERE id = @id AND version = @version
RETURNING *;

-- name: MarkTokenRefreshFailed :exec
UPDATE lightfast_gw_tokens SET
    refresh_failed_at = now(),
    refresh_error = @refresh_error,
    version = version + 1,
    updated_at = now()
WHERE id = @id AND version = @version;
