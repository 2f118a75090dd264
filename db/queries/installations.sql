-- name: UpsertInstallation :one
-- Insert or refresh an installation (the connect callback's write). The id is decided by the caller (the
-- existing row's id when there is one) because the encrypted webhook secret is bound to it. Only a revoked
-- installation moves to another org: a row pending, active or errored in another org is left alone and no
-- row is returned (the caller reports installation_claimed). Status defaults to active; the callback
-- writes pending with its confirmation deadline (SPEC §5.1). Metadata is merged, not replaced.
INSERT INTO lightfast_gw_installations (
    id, provider, external_id, account_login, connected_by, org_id, status, pending_expires_at, webhook_secret, metadata, provider_account_info
) VALUES (
    @id, @provider, @external_id, @account_login, @connected_by, @org_id, COALESCE(sqlc.narg('status')::varchar, 'active'),
    sqlc.narg('pending_expires_at')::timestamptz, @webhook_secret, @metadata, @provider_account_info
)
ON CONFLICT (provider, external_id) DO UPDATE SET
    account_login = EXCLUDED.account_login,
    connected_by = EXCLUDED.connected_by,
    org_id = EXCLUDED.org_id,
    status = EXCLUDED.status,
    status_reason = NULL,
    pending_expires_at = EXCLUDED.pending_expires_at,
    webhook_secret = COALESCE(EXCLUDED.webhook_secret, lightfast_gw_installations.webhook_secret),
    metadata = lightfast_gw_installations.metadata || EXCLUDED.metadata,
    provider_account_info = EXCLUDED.provider_account_info,
    updated_at = now()
WHERE lightfast_gw_installations.org_id = EXCLUDED.org_id
   OR lightfast_gw_installations.status = 'revoked'
RETURNING *;

-- name: GetInstallation :one
SELECT * FROM lightfast_gw_installations WHERE id = @id;

-- name: GetInstallationForOrg :one
SELECT * FROM lightfast_gw_installations WHERE id = @id AND org_id = @org_id;

-- name: GetInstallationByExternalID :one
SELECT * FROM lightfast_gw_installations WHERE provider = @provider AND external_id = @external_id;

-- name: ListInstallationsByOrg :many
SELECT * FROM lightfast_gw_installations
WHERE org_id = @org_id
  AND (sqlc.narg('provider')::varchar IS NULL OR provider = sqlc.narg('provider'))
  AND (sqlc.narg('status')::varchar IS NULL OR status = sqlc.narg('status'))
ORDER BY created_at, id;

-- name: SetInstallationStatus :one
UPDATE lightfast_gw_installations
SET status = @status, status_reason = @status_reason, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: SetInstallationAccountInfo :one
UPDATE lightfast_gw_installations
SET provider_account_info = @provider_account_info, updated_at = now()
WHERE id = @id
RETURNING *;
