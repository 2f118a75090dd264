-- Console API queries (ConnectionService, IntegrationService, SourceService). Every org-scoped read and
-- write joins the workspace's clerk_org_id, so another org's id finds nothing.

-- name: GetWorkspaceBySlugForOrg :one
SELECT * FROM lightfast_org_workspaces WHERE clerk_org_id = @clerk_org_id AND slug = @slug;

-- name: UpdateIntegrationEventsForOrg :one
-- Only sync_config.events changes, so a concurrent config-status write is not lost.
UPDATE lightfast_workspace_integrations wi
SET sync_config = jsonb_set(wi.sync_config, '{events}', to_jsonb(@events::text[])), updated_at = now()
FROM lightfast_org_workspaces w
WHERE wi.id = @id AND w.id = wi.workspace_id AND w.clerk_org_id = @clerk_org_id
RETURNING wi.*;

-- name: DeleteIntegrationForOrg :one
-- Returns only what the unlink needs, not the JSON columns: an integration whose row cannot be read can
-- still be unlinked (and linked again to repair it).
DELETE FROM lightfast_workspace_integrations wi
USING lightfast_org_workspaces w
WHERE wi.id = @id AND w.id = wi.workspace_id AND w.clerk_org_id = @clerk_org_id
RETURNING wi.provider, wi.installation_id, wi.provider_resource_id;

-- name: CountActiveIntegrationsForResource :one
-- Integrations of the installation's own organisation only: only they keep a resource routed.
SELECT count(*) FROM lightfast_workspace_integrations wi
JOIN lightfast_org_workspaces w ON w.id = wi.workspace_id
JOIN lightfast_gw_installations i ON i.id = wi.installation_id AND i.org_id = w.clerk_org_id
WHERE wi.installation_id = @installation_id AND wi.provider_resource_id = @provider_resource_id AND wi.is_active;

-- name: SetGithubConfigStatus :one
-- Records the result of looking for lightfast.yml; only the config keys of sync_config change.
UPDATE lightfast_workspace_integrations
SET sync_config = sync_config || jsonb_build_object(
        'configStatus', @config_status::text, 'configPath', @config_path::text, 'lastConfigCheck', @checked_at::timestamptz),
    updated_at = now()
WHERE id = @id AND provider = 'github'
RETURNING *;

-- name: FindGithubSources :many
-- JSON columns undecoded, for package integrations (see ListIntegrationsByWorkspace).
SELECT id, workspace_id, installation_id, provider, provider_resource_id, resource_name,
       resource_meta::json AS resource_meta, sync_config::json AS sync_config, backfill_state::json AS backfill_state,
       is_active, last_synced_at, last_sync_status, last_sync_error, document_count, connected_by, created_at, updated_at
FROM lightfast_workspace_integrations
WHERE provider = 'github' AND provider_resource_id = @repo_id AND is_active
  AND (sqlc.narg('workspace_id')::varchar IS NULL OR workspace_id = sqlc.narg('workspace_id'))
ORDER BY created_at, id;

-- name: GetGithubSourceID :one
-- A workspace may reach one repository through several connections; the active, oldest link wins.
SELECT id FROM lightfast_workspace_integrations
WHERE workspace_id = @workspace_id AND provider = 'github' AND provider_resource_id = @repo_id
ORDER BY is_active DESC, created_at, id
LIMIT 1;

-- name: SetGithubSyncStatus :execrows
UPDATE lightfast_workspace_integrations
SET last_sync_status = @status, last_sync_error = @sync_error, last_synced_at = @synced_at, updated_at = now()
WHERE id = @id AND provider = 'github';

-- name: DeactivateGithubInstallationSources :execrows
-- By GitHub's installation id: the integrations of the connection with that external id, and any whose
-- resource_meta names it.
UPDATE lightfast_workspace_integrations
SET is_active = false, updated_at = now()
WHERE provider = 'github' AND is_active
  AND (installation_id IN (SELECT id FROM lightfast_gw_installations WHERE provider = 'github' AND external_id = @github_installation_id)
       OR resource_meta->>'installationId' = @github_installation_id);

-- name: DeactivateGithubRepoSources :execrows
-- The repository is gone at GitHub: its sources stop ingesting and their resource_meta says it is archived
-- (a row without resource_meta keeps none, as in PatchGithubResourceMeta).
UPDATE lightfast_workspace_integrations
SET is_active = false,
    resource_meta = CASE WHEN resource_meta IS NULL THEN NULL ELSE resource_meta || '{"isArchived": true}'::jsonb END,
    updated_at = now()
WHERE provider = 'github' AND provider_resource_id = @repo_id AND is_active;

-- name: PatchGithubResourceMeta :execrows
-- @patch holds only the resource_meta keys to change (a row without resource_meta keeps none: a partial
-- object would not be a valid tagged ResourceMeta); resource_name follows the full name when given.
UPDATE lightfast_workspace_integrations
SET resource_meta = CASE WHEN resource_meta IS NULL THEN NULL ELSE resource_meta || @patch::jsonb END,
    resource_name = COALESCE(sqlc.narg('resource_name')::varchar, resource_name),
    updated_at = now()
WHERE provider = 'github' AND provider_resource_id = @repo_id;

-- name: UpdateIntegrationSyncConfigForOrg :one
-- @patch holds only the sync_config keys to change (events, branches, paths, autoSync), so the config
-- keys a push or sync writes meanwhile are never lost.
UPDATE lightfast_workspace_integrations wi
SET sync_config = wi.sync_config || @patch::jsonb, updated_at = now()
FROM lightfast_org_workspaces w
WHERE wi.id = @id AND w.id = wi.workspace_id AND w.clerk_org_id = @clerk_org_id
RETURNING wi.*;

-- name: ListWorkspacesByGithubLogin :many
-- The org's workspaces with an active integration reached through a GitHub installation on the account
-- @login (case-insensitive, as GitHub logins are).
SELECT w.* FROM lightfast_org_workspaces w
WHERE w.clerk_org_id = @clerk_org_id
  AND EXISTS (
    SELECT 1 FROM lightfast_workspace_integrations wi
    JOIN lightfast_gw_installations i ON i.id = wi.installation_id
    WHERE wi.workspace_id = w.id AND wi.is_active
      AND i.org_id = @clerk_org_id AND i.provider = 'github' AND lower(i.account_login) = lower(@login::text))
ORDER BY w.created_at, w.id;
