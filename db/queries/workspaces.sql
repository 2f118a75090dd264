-- name: CreateWorkspace :one
INSERT INTO lightfast_org_workspaces (id, clerk_org_id, name, slug, settings)
VALUES (@id, @clerk_org_id, @name, @slug, @settings)
RETURNING *;

-- name: GetWorkspaceForOrg :one
SELECT * FROM lightfast_org_workspaces WHERE id = @id AND clerk_org_id = @clerk_org_id;

-- name: ListWorkspacesByOrg :many
SELECT * FROM lightfast_org_workspaces WHERE clerk_org_id = @clerk_org_id ORDER BY created_at, id;
