-- Queries of the Console's webhook.process and sync.config workers.

-- name: RecordDeliveryFailure :exec
-- A failed attempt: remembers the error, and on the last attempt moves the delivery to the dead-letter
-- status. A delivery that has meanwhile been processed keeps its status.
UPDATE lightfast_gw_webhook_deliveries
SET attempts = attempts + 1,
    last_error = @last_error,
    status = CASE WHEN @dead::bool THEN 'dlq' ELSE status END,
    processed_at = CASE WHEN @dead::bool THEN now() ELSE processed_at END
WHERE id = @id AND status NOT IN ('delivered', 'ignored');

-- name: SetIntegrationConfigStatus :exec
-- Writes only the config-detection keys of sync_config, in SQL, so a concurrent change to the events
-- allow-list is never overwritten by a stale read. An empty config_path removes the key.
UPDATE lightfast_workspace_integrations
SET sync_config = (sync_config - 'configPath')
        || jsonb_build_object('configStatus', @config_status::text, 'lastConfigCheck', @last_config_check::text)
        || CASE WHEN @config_path::text = '' THEN '{}'::jsonb ELSE jsonb_build_object('configPath', @config_path::text) END,
    updated_at = now()
WHERE id = @id;

-- name: LockDeliveriesForProcessing :many
-- Taken first in the worker's transaction, so two runs of the same delivery (a rescued job and its
-- original, or a replay) never interleave: the second waits, then sees the status the first wrote. Rows
-- are locked in id order, so two batches that share deliveries queue instead of deadlocking.
SELECT * FROM lightfast_gw_webhook_deliveries WHERE id = ANY(@ids::text[]) ORDER BY id FOR UPDATE;

-- name: ListActiveIntegrationsForResources :many
-- The active integrations of several (installation, resource) pairs at once, each only in the
-- installation's own organisation. JSON columns undecoded, for package integrations (see
-- ListIntegrationsByWorkspace).
SELECT wi.id, wi.workspace_id, wi.installation_id, wi.provider, wi.provider_resource_id, wi.resource_name,
       wi.resource_meta::json AS resource_meta, wi.sync_config::json AS sync_config, wi.backfill_state::json AS backfill_state,
       wi.is_active, wi.last_synced_at, wi.last_sync_status, wi.last_sync_error, wi.document_count, wi.connected_by, wi.created_at, wi.updated_at
FROM lightfast_workspace_integrations wi
JOIN (SELECT unnest(@installation_ids::text[]) AS installation_id, unnest(@resource_ids::text[]) AS provider_resource_id) AS r
  ON wi.installation_id = r.installation_id AND wi.provider_resource_id = r.provider_resource_id
JOIN lightfast_org_workspaces w ON w.id = wi.workspace_id
JOIN lightfast_gw_installations i ON i.id = wi.installation_id AND i.org_id = w.clerk_org_id
WHERE wi.is_active
ORDER BY wi.created_at, wi.id;

-- name: InsertObservations :many
-- Many observations in one statement; empty body / url / actor strings are stored as NULL. A fact already
-- recorded in its workspace (or twice in this batch) inserts nothing and is absent from the result.
INSERT INTO lightfast_workspace_observations (
    id, workspace_id, integration_id, provider, source_type, source_id, title, body, actor, url, occurred_at, metadata, delivery_id
)
SELECT u.id, u.workspace_id, u.integration_id, u.provider, u.source_type, u.source_id, u.title, NULLIF(u.body, ''),
       NULLIF(u.actor, '')::jsonb, NULLIF(u.url, ''), u.occurred_at, u.metadata::jsonb, u.delivery_id
FROM (
    SELECT unnest(@ids::text[]) AS id, unnest(@workspace_ids::text[]) AS workspace_id,
           unnest(@integration_ids::text[]) AS integration_id, unnest(@providers::text[]) AS provider,
           unnest(@source_types::text[]) AS source_type, unnest(@source_ids::text[]) AS source_id,
           unnest(@titles::text[]) AS title, unnest(@bodies::text[]) AS body, unnest(@actors::text[]) AS actor,
           unnest(@urls::text[]) AS url, unnest(@occurred_ats::timestamptz[]) AS occurred_at,
           unnest(@metadatas::text[]) AS metadata, unnest(@delivery_ids::text[]) AS delivery_id
) AS u
ON CONFLICT (workspace_id, source_id) DO NOTHING
RETURNING integration_id, delivery_id;

-- name: SetDeliveryStatuses :exec
-- last_error is cleared, or (non-empty) says why an ignored delivery was ignored and what the processing had
-- to leave out (an integration of the resource whose row could not be read).
UPDATE lightfast_gw_webhook_deliveries d
SET status = u.status, last_error = NULLIF(u.last_error, ''), attempts = d.attempts + 1, processed_at = now()
FROM (SELECT unnest(@ids::text[]) AS id, unnest(@statuses::text[]) AS status, unnest(@last_errors::text[]) AS last_error) AS u
WHERE d.id = u.id;

-- name: LockIntegrations :exec
-- Taken just before AddIntegrationsDocuments, in id order, so concurrent batches that count documents on
-- the same integrations queue instead of deadlocking. NO KEY UPDATE (what the UPDATE takes anyway) does
-- not conflict with the KEY SHARE locks the observations' foreign keys hold on the same rows.
SELECT id FROM lightfast_workspace_integrations WHERE id = ANY(@ids::text[]) ORDER BY id FOR NO KEY UPDATE;

-- name: AddIntegrationsDocuments :exec
UPDATE lightfast_workspace_integrations i
SET document_count = i.document_count + u.added, updated_at = now()
FROM (SELECT unnest(@ids::text[]) AS id, unnest(@added::int[]) AS added) AS u
WHERE i.id = u.id;

-- name: RecordIntegrationSync :exec
-- The sync worker's bookkeeping: pending when a sync is queued, then success (last_synced_at moves to
-- now) or failed with its error.
UPDATE lightfast_workspace_integrations
SET last_sync_status = @status::text,
    last_sync_error = sqlc.narg('sync_error'),
    last_synced_at = CASE WHEN @status::text = 'success' THEN now() ELSE last_synced_at END,
    updated_at = now()
WHERE id = @id;
