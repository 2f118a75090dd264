-- name: InsertDelivery :one
-- The dedup point: a second delivery with the same (provider, delivery_id) inserts nothing and returns no row.
INSERT INTO lightfast_gw_webhook_deliveries (
    id, provider, delivery_id, event_type, installation_id, provider_resource_id, status, payload, headers
) VALUES (
    @id, @provider, @delivery_id, @event_type, @installation_id, @provider_resource_id, @status, @payload, @headers
)
ON CONFLICT (provider, delivery_id) DO NOTHING
RETURNING id;

-- name: GetDelivery :one
SELECT * FROM lightfast_gw_webhook_deliveries WHERE id = @id;

-- name: SetDeliveryStatus :exec
UPDATE lightfast_gw_webhook_deliveries
SET status = @status, last_error = @last_error, attempts = attempts + 1, processed_at = now()
WHERE id = @id;

-- name: ListReceivedBefore :many
-- The stranded-delivery sweep's candidates: deliveries still received before a time, oldest first,
-- keyset-paginated on (received_at, id) (index gw_webhook_deliveries_status_received_at_idx).
SELECT id, received_at FROM lightfast_gw_webhook_deliveries
WHERE status = 'received' AND received_at < @before::timestamptz
  AND (received_at, id) > (@after_at::timestamptz, @after_id::varchar)
ORDER BY received_at, id
LIMIT @max_rows;
