-- Queries of the Console's webhook.process and sync.config workers.

-- name: LockDeliveryForProcessing :one
-- Taken first in the worker's transaction, so two runs of the same delivery (a rescued job and its
-- original, or a replay) never interleave: the second waits, then sees the status the first wrote.
SELECT * FROM lightfast_gw_webhook_deliveries WHERE id = @id FOR UPDATE;

-- name: RecordDeliveryFailure :exec
-- A failed attempt: remembers the error, and on the last attempt moves the delivery to the dead-letter
-- status. A delivery that has meanwhile been processed keeps its status.
UPDATE lightfast_gw_webhook_deliveries
SET attempts = attempts + 1,
    last_error = @last_error,
    status = CASE WHEN @dead::bool THEN 'dlq' ELSE status END,
    processed_at = CASE WHEN @dead::bool THEN now() ELSE processed_at END
WHERE id = @id AND status NOT IN ('delivered', 'ignored');

-- name: AddIntegrationDocuments :exec
UPDATE lightfast_workspace_integrations
SET document_count = document_count + @added::int, updated_at = now()
WHERE id = @id;

-- name: SetIntegrationConfigStatus :exec
-- Writes only the config-detection keys of sync_config, in SQL, so a concurrent change to the events
-- allow-list is never overwritten by a stale read. An empty config_path removes the key.
UPDATE lightfast_workspace_integrations
SET sync_config = (sync_config - 'configPath')
        || jsonb_build_object('configStatus', @config_status::text, 'lastConfigCheck', @last_config_check::text)
        || CASE WHEN @config_path::text = '' THEN '{}'::jsonb ELSE jsonb_build_object('configPath', @config_path::text) END,
    updated_at = now()
WHERE id = @id;
