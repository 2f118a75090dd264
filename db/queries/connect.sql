-- name: ConsumeOAuthStateForProvider :one
-- Single use and provider-bound: only an unexpired state made for this provider is deleted and returned.
-- A miss leaves every row as it was (the caller classifies it with GetOAuthState).
DELETE FROM lightfast_gw_oauth_states
WHERE state_hash = @state_hash AND provider = @provider AND expires_at > now()
RETURNING *;

-- name: LockInstallationByExternalID :one
-- Taken at the start of the callback transaction so the org check and the write see the same row.
SELECT * FROM lightfast_gw_installations
WHERE provider = @provider AND external_id = @external_id
FOR UPDATE;

-- name: UpsertConnectedInstallation :one
-- The callback's write. The id is decided by the caller (the existing row's id when there is one) because
-- the encrypted webhook secret is bound to it. A row active in another org is left alone and no row is
-- returned (installation_claimed); a revoked or errored one is reclaimed.
INSERT INTO lightfast_gw_installations (
    id, provider, external_id, account_login, connected_by, org_id, status, webhook_secret, metadata, provider_account_info
) VALUES (
    @id, @provider, @external_id, @account_login, @connected_by, @org_id, 'active', @webhook_secret, @metadata, @provider_account_info
)
ON CONFLICT (provider, external_id) DO UPDATE SET
    account_login = EXCLUDED.account_login,
    connected_by = EXCLUDED.connected_by,
    org_id = EXCLUDED.org_id,
    status = 'active',
    status_reason = NULL,
    webhook_secret = COALESCE(EXCLUDED.webhook_secret, lightfast_gw_installations.webhook_secret),
    metadata = lightfast_gw_installations.metadata || EXCLUDED.metadata,
    provider_account_info = EXCLUDED.provider_account_info,
    updated_at = now()
WHERE lightfast_gw_installations.org_id = EXCLUDED.org_id
   OR lightfast_gw_installations.status <> 'active'
RETURNING *;

-- name: GetTokenIDByInstallation :one
SELECT id FROM lightfast_gw_tokens WHERE installation_id = @installation_id;

-- name: GetInstallationForProvider :one
SELECT * FROM lightfast_gw_installations WHERE id = @id AND provider = @provider;

-- name: LockInstallationForTeardown :one
SELECT * FROM lightfast_gw_installations WHERE id = @id AND provider = @provider FOR UPDATE;

-- name: RevokeInstallation :one
UPDATE lightfast_gw_installations
SET status = 'revoked', status_reason = @status_reason, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: ListResourceIDsByInstallation :many
SELECT provider_resource_id FROM lightfast_gw_resources WHERE installation_id = @installation_id ORDER BY provider_resource_id;
