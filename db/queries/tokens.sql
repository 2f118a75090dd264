-- name: UpsertToken :one
-- Write a token for an installation; every write bumps version (the compare-and-set guard for refresh).
INSERT INTO lightfast_gw_tokens (id, installation_id, access_token, refresh_token, expires_at, token_type, scope)
VALUES (@id, @installation_id, @access_token, @refresh_token, @expires_at, @token_type, @scope)
ON CONFLICT (installation_id) DO UPDATE SET
    access_token = EXCLUDED.access_token,
    refresh_token = EXCLUDED.refresh_token,
    expires_at = EXCLUDED.expires_at,
    token_type = EXCLUDED.token_type,
    scope = EXCLUDED.scope,
    version = lightfast_gw_tokens.version + 1,
    refresh_failed_at = NULL,
    refresh_error = NULL,
    updated_at = now()
RETURNING *;

-- name: GetTokenByInstallation :one
SELECT * FROM lightfast_gw_tokens WHERE installation_id = @installation_id;

-- name: GetTokenWithInstallation :one
-- The vault read: one query for the token and the state of its installation.
SELECT sqlc.embed(t), i.provider, i.status AS installation_status, i.org_id, i.external_id
FROM lightfast_gw_tokens t
JOIN lightfast_gw_installations i ON i.id = t.installation_id
WHERE t.installation_id = @installation_id;

-- name: DeleteTokensForInstallation :exec
DELETE FROM lightfast_gw_tokens WHERE installation_id = @installation_id;
