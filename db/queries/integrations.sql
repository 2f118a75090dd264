-- name: UpsertIntegration :one
-- Link a resource to a workspace. Linking again refreshes the metadata and reactivates the row but keeps
-- the sync_config and backfill_state the user already has; created says which of the two happened.
INSERT INTO lightfast_workspace_integrations (
    id, workspace_id, installation_id, provider, provider_resource_id, resource_name, resource_meta, sync_config, connected_by
) VALUES (
    @id, @workspace_id, @installation_id, @provider, @provider_resource_id, @resource_name, @resource_meta, @sync_config, @connected_by
)
ON CONFLICT (workspace_id, installation_id, provider_resource_id) DO UPDATE SET
    resource_name = EXCLUDED.resource_name,
    resource_meta = EXCLUDED.resource_meta,
    is_active = true,
    updated_at = now()
RETURNING *, (xmax = 0)::boolean AS created;

-- name: GetIntegration :one
SELECT * FROM lightfast_workspace_integrations WHERE id = @id;

-- name: GetIntegrationForOrg :one
SELECT wi.* FROM lightfast_workspace_integrations wi
JOIN lightfast_org_workspaces w ON w.id = wi.workspace_id
WHERE wi.id = @id AND w.clerk_org_id = @clerk_org_id;

-- name: ListIntegrationsByWorkspace :many
SELECT * FROM lightfast_workspace_integrations WHERE workspace_id = @workspace_id ORDER BY created_at, id;

-- name: ListActiveIntegrationsForResource :many
SELECT * FROM lightfast_workspace_integrations
WHERE installation_id = @installation_id AND provider_resource_id = @provider_resource_id AND is_active
ORDER BY created_at, id;

-- name: DeactivateIntegrationsForInstallation :execrows
UPDATE lightfast_workspace_integrations SET is_active = false, updated_at = now()
WHERE installation_id = @installation_id AND is_active;
