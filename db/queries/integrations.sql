-- name: UpsertIntegration :one
-- Link a resource to a workspace. Linking again refreshes the metadata and reactivates the row but keeps
-- the sync_config and backfill_state the user already has; created says which of the two happened.
-- The installation must belong to the workspace's organisation (no row otherwise); it is share-locked so
-- a concurrent teardown, which deactivates the installation's integrations, runs before or after, never
-- in between.
INSERT INTO lightfast_workspace_integrations (
    id, workspace_id, installation_id, provider, provider_resource_id, resource_name, resource_meta, sync_config, connected_by
)
SELECT @id, @workspace_id::varchar, @installation_id::varchar, @provider, @provider_resource_id, @resource_name, @resource_meta, @sync_config, @connected_by
WHERE EXISTS (
    SELECT 1 FROM lightfast_gw_installations i
    JOIN lightfast_org_workspaces w ON w.id = @workspace_id AND w.clerk_org_id = i.org_id
    WHERE i.id = @installation_id
    FOR SHARE OF i
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
-- The JSON columns come back undecoded (::json, read as bytes) so that package integrations decodes each
-- row on its own: one row that cannot be decoded is reported, not a reason to fail the others. The same
-- holds for every query here that reads several integrations.
SELECT id, workspace_id, installation_id, provider, provider_resource_id, resource_name,
       resource_meta::json AS resource_meta, sync_config::json AS sync_config, backfill_state::json AS backfill_state,
       is_active, last_synced_at, last_sync_status, last_sync_error, document_count, connected_by, created_at, updated_at
FROM lightfast_workspace_integrations WHERE workspace_id = @workspace_id ORDER BY created_at, id;

-- name: ListActiveIntegrationsForResource :many
-- Only integrations of the installation's own organisation: a workspace of an org the installation has
-- left (it was revoked, then connected elsewhere) never sees its resources again.
SELECT wi.* FROM lightfast_workspace_integrations wi
JOIN lightfast_org_workspaces w ON w.id = wi.workspace_id
JOIN lightfast_gw_installations i ON i.id = wi.installation_id AND i.org_id = w.clerk_org_id
WHERE wi.installation_id = @installation_id AND wi.provider_resource_id = @provider_resource_id AND wi.is_active
ORDER BY wi.created_at, wi.id;

-- name: DeactivateIntegrationsForInstallation :execrows
-- Teardown: every integration on the installation, whatever its organisation (switching one off is
-- always safe; it is the reads that must match the org).
UPDATE lightfast_workspace_integrations SET is_active = false, updated_at = now()
WHERE installation_id = @installation_id AND is_active;
