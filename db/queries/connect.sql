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

-- name: GetTokenIDByInstallation :one
SELECT id FROM lightfast_gw_tokens WHERE installation_id = @installation_id;

-- name: GetInstallationForProvider :one
SELECT * FROM lightfast_gw_installations WHERE id = @id AND provider = @provider;

-- name: LockInstallationForTeardown :one
SELECT * FROM lightfast_gw_installations WHERE id = @id AND provider = @provider FOR UPDATE;

-- name: RevokeInstallation :one
UPDATE lightfast_gw_installations
SET status = 'revoked', status_reason = @status_reason, pending_expires_at = NULL, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: ListResourceIDsByInstallation :many
SELECT provider_resource_id FROM lightfast_gw_resources WHERE installation_id = @installation_id ORDER BY provider_resource_id;
