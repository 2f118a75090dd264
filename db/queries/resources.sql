-- name: UpsertResource :one
INSERT INTO lightfast_gw_resources (id, installation_id, provider_resource_id, resource_name, status)
VALUES (@id, @installation_id, @provider_resource_id, @resource_name, 'active')
ON CONFLICT (installation_id, provider_resource_id) DO UPDATE SET
    resource_name = COALESCE(EXCLUDED.resource_name, lightfast_gw_resources.resource_name),
    status = 'active',
    updated_at = now()
RETURNING *;

-- name: ListResourcesByInstallation :many
SELECT * FROM lightfast_gw_resources WHERE installation_id = @installation_id ORDER BY created_at, id;

-- name: SetResourceStatus :exec
UPDATE lightfast_gw_resources SET status = @status, updated_at = now()
WHERE installation_id = @installation_id AND provider_resource_id = @provider_resource_id;

-- name: RemoveResourcesForInstallation :exec
UPDATE lightfast_gw_resources SET status = 'removed', updated_at = now()
WHERE installation_id = @installation_id AND status <> 'removed';

-- name: ResolveResource :one
-- Routing fallback when the cache misses: the active installation that owns a provider resource.
SELECT i.id
FROM lightfast_gw_resources r
JOIN lightfast_gw_installations i ON i.id = r.installation_id
WHERE i.provider = @provider AND r.provider_resource_id = @provider_resource_id
  AND r.status = 'active' AND i.status = 'active'
ORDER BY r.updated_at DESC
LIMIT 1;

-- name: ResolveInstallationByExternalID :one
SELECT id FROM lightfast_gw_installations
WHERE provider = @provider AND external_id = @external_id AND status = 'active';
