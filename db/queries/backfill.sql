-- name: LockIntegrationForBackfill :one
-- StartBackfill, CancelBackfill and the BulkLink procedures hold the integration row while they read and
-- change backfill_state, so two concurrent starts serialise and the second sees the first one's state.
-- An empty @clerk_org_id skips the org check, for callers that already scoped the row (the worker).
SELECT wi.* FROM lightfast_workspace_integrations wi
JOIN lightfast_org_workspaces w ON w.id = wi.workspace_id
WHERE wi.id = @id AND (@clerk_org_id::varchar = '' OR w.clerk_org_id = @clerk_org_id::varchar)
FOR UPDATE OF wi;

-- name: SetBackfillState :exec
UPDATE lightfast_workspace_integrations SET backfill_state = @backfill_state, updated_at = now()
WHERE id = @id;

-- name: AdvanceBackfillState :execrows
-- The runner's write: it lands only while the backfill is still the one job @job_id runs and has not
-- ended, so a cancel (or a newer backfill) committed in between wins and the runner stops.
UPDATE lightfast_workspace_integrations SET backfill_state = @backfill_state, updated_at = now()
WHERE id = @id
  AND backfill_state->>'status' IN ('pending', 'running')
  AND (backfill_state->>'jobId')::bigint = @job_id::bigint;

-- name: GetBackfillState :one
-- What the runner checks between pages: whether it was cancelled (or replaced) meanwhile.
SELECT backfill_state, is_active FROM lightfast_workspace_integrations WHERE id = @id;

-- name: InsertObservationsBulk :execrows
-- One page of backfilled observations in one statement. @rows is a JSON array of objects with the
-- columns below; source ids are deterministic, so a fact already written (by the webhook worker or an
-- earlier attempt of this page) is skipped, and the count says how many rows were new.
INSERT INTO lightfast_workspace_observations (
    id, workspace_id, integration_id, provider, source_type, source_id, title, body, actor, url, occurred_at, metadata
)
SELECT r.id, @workspace_id::varchar, @integration_id::varchar, @provider::varchar, r.source_type, r.source_id,
       r.title, r.body, r.actor, r.url, r.occurred_at, COALESCE(r.metadata, '{}'::jsonb)
FROM jsonb_to_recordset(@rows::jsonb) AS r(
    id varchar, source_type varchar, source_id varchar, title text, body text, actor jsonb, url text,
    occurred_at timestamptz, metadata jsonb
)
ON CONFLICT (workspace_id, source_id) DO NOTHING;
