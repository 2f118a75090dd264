-- name: CreateOAuthState :exec
INSERT INTO lightfast_gw_oauth_states (state_hash, provider, org_id, connected_by, code_verifier, return_to, expires_at)
VALUES (@state_hash, @provider, @org_id, @connected_by, @code_verifier, @return_to, @expires_at);

-- name: GetOAuthState :one
-- Read without consuming (the authorize step checks the state before redirecting to the provider).
SELECT * FROM lightfast_gw_oauth_states WHERE state_hash = @state_hash;

-- name: ConsumeOAuthState :one
-- Single use: the row is gone once read, so a second callback with the same state finds nothing.
DELETE FROM lightfast_gw_oauth_states WHERE state_hash = @state_hash RETURNING *;

-- name: DeleteExpiredOAuthStates :execrows
DELETE FROM lightfast_gw_oauth_states WHERE expires_at < now();
