-- name: InsertObservation :one
-- Source ids are deterministic per fact, so a webhook and a backfill of the same fact meet here and the
-- second insert returns no row.
INSERT INTO lightfast_workspace_observations (
    id, workspace_id, integration_id, provider, source_type, source_id, title, body, actor, url, occurred_at, metadata, delivery_id
) VALUES (
    @id, @workspace_id, @integration_id, @provider, @source_type, @source_id, @title, @body, @actor, @url, @occurred_at, @metadata, @delivery_id
)
ON CONFLICT (workspace_id, source_id) DO NOTHING
RETURNING id;

-- name: ListObservations :many
-- Newest first, keyset-paginated on (occurred_at, id).
SELECT * FROM lightfast_workspace_observations
WHERE workspace_id = @workspace_id
  AND (sqlc.narg('provider')::varchar IS NULL OR provider = sqlc.narg('provider'))
  AND (sqlc.narg('source_type')::varchar IS NULL OR source_type = sqlc.narg('source_type'))
  AND (sqlc.narg('integration_id')::varchar IS NULL OR integration_id = sqlc.narg('integration_id'))
  AND (sqlc.narg('before_occurred_at')::timestamptz IS NULL
       OR (occurred_at, id) < (sqlc.narg('before_occurred_at')::timestamptz, sqlc.narg('before_id')::varchar))
ORDER BY occurred_at DESC, id DESC
LIMIT @lim;
