-- name: InsertDeliveries :many
-- Group commit: many deliveries in one statement. A delivery whose (provider, delivery_id) exists already
-- inserts nothing and is absent from the result, which is how the caller tells new from duplicate.
-- Empty installation / resource ids and last errors are stored as NULL. A delivery routed to an installation
-- id that has no row (a routing-cache entry from another database) inserts nothing either: the cache is not
-- trusted past the database. The caller tells it from a duplicate with ListUnknownInstallationIDs, only for
-- rows that were not inserted, so the common case costs no extra round trip.
INSERT INTO lightfast_gw_webhook_deliveries (
    id, provider, delivery_id, event_type, installation_id, provider_resource_id, status, payload, headers, last_error
)
SELECT id, provider, delivery_id, event_type, NULLIF(installation_id, ''), NULLIF(provider_resource_id, ''),
       status, payload, headers::jsonb, NULLIF(last_error, '')
FROM (
    SELECT unnest(@ids::text[]) AS id, unnest(@providers::text[]) AS provider,
           unnest(@delivery_ids::text[]) AS delivery_id, unnest(@event_types::text[]) AS event_type,
           unnest(@installation_ids::text[]) AS installation_id, unnest(@resource_ids::text[]) AS provider_resource_id,
           unnest(@statuses::text[]) AS status, unnest(@payloads::bytea[]) AS payload, unnest(@headers::text[]) AS headers,
           unnest(@last_errors::text[]) AS last_error
) AS d
WHERE d.installation_id = '' OR EXISTS (SELECT 1 FROM lightfast_gw_installations i WHERE i.id = d.installation_id)
ON CONFLICT (provider, delivery_id) DO NOTHING
RETURNING id;

-- name: ListUnknownInstallationIDs :many
-- The ids among these that name no installation row.
SELECT u.id::text AS id FROM unnest(@ids::text[]) AS u(id)
WHERE NOT EXISTS (SELECT 1 FROM lightfast_gw_installations i WHERE i.id = u.id);

-- name: GetLinearWebhookSecret :one
-- The encrypted webhook secret of a Linear organization's installation (revoked ones no longer verify).
SELECT id, webhook_secret FROM lightfast_gw_installations
WHERE provider = 'linear' AND external_id = @external_id AND status <> 'revoked';

-- name: ListDeliveries :many
-- The delivery log, newest first, keyset-paginated on (received_at, id).
SELECT id, provider, delivery_id, event_type, installation_id, provider_resource_id, status,
       (CASE WHEN @include_payload::bool THEN payload END)::bytea AS payload,
       headers, attempts, last_error, received_at, processed_at
FROM lightfast_gw_webhook_deliveries
WHERE (sqlc.narg('status')::varchar IS NULL OR status = sqlc.narg('status'))
  AND (sqlc.narg('provider')::varchar IS NULL OR provider = sqlc.narg('provider'))
  AND (sqlc.narg('before_at')::timestamptz IS NULL
       OR (received_at, id) < (sqlc.narg('before_at')::timestamptz, sqlc.narg('before_id')::varchar))
ORDER BY received_at DESC, id DESC
LIMIT @max_rows;

-- name: ListDLQDeliveryIDs :many
-- Dead-lettered deliveries in a range, oldest first, for a bulk replay.
SELECT id FROM lightfast_gw_webhook_deliveries
WHERE status = 'dlq'
  AND (sqlc.narg('provider')::varchar IS NULL OR provider = sqlc.narg('provider'))
  AND (sqlc.narg('since')::timestamptz IS NULL OR received_at >= sqlc.narg('since'))
  AND (sqlc.narg('until')::timestamptz IS NULL OR received_at < sqlc.narg('until'))
  AND (sqlc.narg('after_id')::varchar IS NULL OR id > sqlc.narg('after_id'))
ORDER BY id
LIMIT @max_rows;

-- name: RequeueDelivery :one
-- Moves a dead-lettered delivery back to received. Any other status returns no row (replay is a no-op).
UPDATE lightfast_gw_webhook_deliveries
SET status = 'received', last_error = NULL, processed_at = NULL
WHERE id = @id AND status = 'dlq'
RETURNING id, provider, event_type;

-- name: DropDeliveryPayloads :execrows
-- Retention, step 1: forget the bodies of old deliveries that are done with. DLQ and in-flight rows keep
-- theirs. Batched so one run never holds many row locks.
UPDATE lightfast_gw_webhook_deliveries SET payload = NULL
WHERE id IN (
    SELECT id FROM lightfast_gw_webhook_deliveries
    WHERE status IN ('delivered', 'ignored', 'unrouted') AND received_at < @before::timestamptz AND payload IS NOT NULL
    LIMIT @max_rows
);

-- name: DeleteOldDeliveries :execrows
-- Retention, step 2: delete old delivery rows, except those still in flight.
DELETE FROM lightfast_gw_webhook_deliveries
WHERE id IN (
    SELECT id FROM lightfast_gw_webhook_deliveries
    WHERE status <> 'received' AND received_at < @before::timestamptz
    LIMIT @max_rows
);

-- name: RenameResource :exec
UPDATE lightfast_gw_resources SET resource_name = @resource_name, updated_at = now()
WHERE installation_id = @installation_id AND provider_resource_id = @provider_resource_id;

-- name: ListIntegrationsForResource :many
-- Every integration (active or not) linked to one provider resource of an installation, in the
-- installation's own organisation. JSON columns undecoded, for package integrations (see
-- ListIntegrationsByWorkspace).
SELECT wi.id, wi.workspace_id, wi.installation_id, wi.provider, wi.provider_resource_id, wi.resource_name,
       wi.resource_meta::json AS resource_meta, wi.sync_config::json AS sync_config, wi.backfill_state::json AS backfill_state,
       wi.is_active, wi.last_synced_at, wi.last_sync_status, wi.last_sync_error, wi.document_count, wi.connected_by, wi.created_at, wi.updated_at
FROM lightfast_workspace_integrations wi
JOIN lightfast_org_workspaces w ON w.id = wi.workspace_id
JOIN lightfast_gw_installations i ON i.id = wi.installation_id AND i.org_id = w.clerk_org_id
WHERE wi.installation_id = @installation_id AND wi.provider_resource_id = @provider_resource_id
ORDER BY wi.created_at, wi.id;

-- name: SetIntegrationResource :exec
UPDATE lightfast_workspace_integrations
SET resource_name = @resource_name, resource_meta = @resource_meta, updated_at = now()
WHERE id = @id;

-- name: DeactivateIntegrationsForResource :execrows
-- Whatever their organisation: switching an integration off is always safe.
UPDATE lightfast_workspace_integrations SET is_active = false, updated_at = now()
WHERE installation_id = @installation_id AND provider_resource_id = @provider_resource_id AND is_active;
