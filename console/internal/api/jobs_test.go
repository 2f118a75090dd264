package api_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// insertJob queues args the way the workers' producers do.
func (e *env) insertJob(args river.JobArgs) int64 {
	e.t.Helper()
	res, err := e.river.Insert(context.Background(), args, nil)
	require.NoError(e.t, err)
	return res.Job.ID
}

// discard ends a job as River does after its last failed attempt, with that attempt's error.
func (e *env) discard(id int64, msg string) {
	e.t.Helper()
	_, err := e.pool.Exec(context.Background(), `UPDATE river_job SET state = 'discarded', finalized_at = now(), attempt = max_attempts,
		errors = ARRAY[jsonb_build_object('at', now(), 'attempt', max_attempts, 'error', $2::text, 'trace', '')] WHERE id = $1`, id, msg)
	require.NoError(e.t, err)
}

// delivery records a routed delivery for resource through installation, with its webhook.process job.
func (e *env) deliveryJob(installation, resource string) int64 {
	e.t.Helper()
	id := ids.New()
	_, err := e.q.InsertDelivery(context.Background(), dbq.InsertDeliveryParams{
		ID: id, Provider: types.GitHub, DeliveryID: ids.New(), EventType: "push", Status: "received", Payload: []byte(`{}`),
		Headers: types.Headers{}, InstallationID: &installation, ProviderResourceID: &resource,
	})
	require.NoError(e.t, err)
	return e.insertJob(jobs.WebhookProcess{DeliveryID: id})
}

func jobIDs(js []*consolev1.Job) []int64 {
	out := make([]int64, 0, len(js))
	for _, j := range js {
		out = append(out, j.GetId())
	}
	return out
}

func TestListJobs(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	a := seedOrg(t, e, "org_a")
	b := seedOrg(t, e, "org_b")
	aIn, err := e.q.GetIntegration(ctx, a.integ)
	require.NoError(t, err)

	backfill := e.insertJob(jobs.BackfillRun{IntegrationID: a.integ, DepthDays: 30, EntityTypes: []string{"pull_request"}})
	sync := e.insertJob(jobs.SyncConfig{IntegrationID: a.integ, Reason: "push"})
	webhook := e.deliveryJob(aIn.InstallationID, aIn.ProviderResourceID)
	e.discard(sync, "sync config: github is unavailable")
	// Not A's workspace's: B's integration, a delivery of a resource A does not link, a gateway job.
	e.insertJob(jobs.SyncConfig{IntegrationID: b.integ})
	e.deliveryJob(aIn.InstallationID, "not-linked")
	e.insertJob(jobs.TokensReencrypt{})

	resp, err := c.jobs.ListJobs(ctx, connect.NewRequest(&consolev1.ListJobsRequest{WorkspaceId: a.ws}))
	require.NoError(t, err)
	got := resp.Msg.GetJobs()
	require.Equal(t, []int64{webhook, sync, backfill}, jobIDs(got), "the workspace's jobs, newest first")
	require.Empty(t, resp.Msg.GetNextCursor())
	require.Equal(t, consolev1.JobKind_JOB_KIND_WEBHOOK, got[0].GetKind())
	require.NotEmpty(t, got[0].GetDeliveryId())
	require.Equal(t, consolev1.JobKind_JOB_KIND_SYNC, got[1].GetKind())
	require.Equal(t, consolev1.JobState_JOB_STATE_DISCARDED, got[1].GetState())
	require.Equal(t, "sync config: github is unavailable", got[1].GetLastError())
	require.Equal(t, a.integ, got[1].GetIntegrationId())
	require.Equal(t, got[1].GetMaxAttempts(), got[1].GetAttempt())
	require.NotNil(t, got[1].GetFinalizedAt())
	require.Equal(t, consolev1.JobKind_JOB_KIND_BACKFILL, got[2].GetKind())
	require.Equal(t, consolev1.JobState_JOB_STATE_AVAILABLE, got[2].GetState())

	// Filters and pages.
	resp, err = c.jobs.ListJobs(ctx, connect.NewRequest(&consolev1.ListJobsRequest{WorkspaceId: a.ws, State: consolev1.JobState_JOB_STATE_DISCARDED}))
	require.NoError(t, err)
	require.Equal(t, []int64{sync}, jobIDs(resp.Msg.GetJobs()))
	resp, err = c.jobs.ListJobs(ctx, connect.NewRequest(&consolev1.ListJobsRequest{WorkspaceId: a.ws, PageSize: 2}))
	require.NoError(t, err)
	require.Equal(t, []int64{webhook, sync}, jobIDs(resp.Msg.GetJobs()))
	require.NotEmpty(t, resp.Msg.GetNextCursor())
	resp, err = c.jobs.ListJobs(ctx, connect.NewRequest(&consolev1.ListJobsRequest{WorkspaceId: a.ws, PageSize: 2, Cursor: resp.Msg.GetNextCursor()}))
	require.NoError(t, err)
	require.Equal(t, []int64{backfill}, jobIDs(resp.Msg.GetJobs()))
	require.Empty(t, resp.Msg.GetNextCursor())

	// One integration's jobs: another integration of the same workspace has none.
	other, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: a.ws, InstallationId: a.gh, Repositories: ghRepos(a.repo),
	}))
	require.NoError(t, err)
	resp, err = c.jobs.ListJobs(ctx, connect.NewRequest(&consolev1.ListJobsRequest{WorkspaceId: a.ws, IntegrationId: other.Msg.GetIntegrations()[0].GetId()}))
	require.NoError(t, err)
	require.Empty(t, resp.Msg.GetJobs())
	resp, err = c.jobs.ListJobs(ctx, connect.NewRequest(&consolev1.ListJobsRequest{WorkspaceId: a.ws, IntegrationId: a.integ}))
	require.NoError(t, err)
	require.Len(t, resp.Msg.GetJobs(), 3)

	for name, req := range map[string]*consolev1.ListJobsRequest{
		"no workspace":    {},
		"page too large":  {WorkspaceId: a.ws, PageSize: 201},
		"negative page":   {WorkspaceId: a.ws, PageSize: -1},
		"bad cursor":      {WorkspaceId: a.ws, Cursor: "abc"},
		"negative cursor": {WorkspaceId: a.ws, Cursor: "-5"},
		"unknown state":   {WorkspaceId: a.ws, State: consolev1.JobState(99)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.jobs.ListJobs(ctx, connect.NewRequest(req))
			requireCode(t, err, connect.CodeInvalidArgument)
		})
	}
	_, err = c.jobs.ListJobs(ctx, connect.NewRequest(&consolev1.ListJobsRequest{WorkspaceId: a.ws, IntegrationId: b.integ}))
	requireCode(t, err, connect.CodeNotFound)
}

func TestRestartJob(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	a := seedOrg(t, e, "org_a")
	bf := e.backfillClient(token(t, "user_org_a", "org_a", "admin"))

	// A backfill that failed for good: its job is discarded and its state failed.
	_, err := bf.StartBackfill(ctx, connect.NewRequest(&consolev1.StartBackfillRequest{IntegrationId: a.integ}))
	require.NoError(t, err)
	row, err := e.q.GetIntegration(ctx, a.integ)
	require.NoError(t, err)
	jobID := row.BackfillState.JobID
	require.NotZero(t, jobID)
	st := row.BackfillState
	st.Status, st.Error = types.BackfillFailed, "github is unavailable"
	st.Checkpoint = &types.BackfillCheckpoint{EntityType: "issue", Cursor: "3", Done: []string{"pull_request"}}
	require.NoError(t, e.q.SetBackfillState(ctx, dbq.SetBackfillStateParams{ID: a.integ, BackfillState: st}))
	e.discard(jobID, "github is unavailable")

	resp, err := c.jobs.RestartJob(ctx, connect.NewRequest(&consolev1.RestartJobRequest{JobId: jobID}))
	require.NoError(t, err)
	require.Equal(t, consolev1.JobState_JOB_STATE_AVAILABLE, resp.Msg.GetJob().GetState())
	row, err = e.q.GetIntegration(ctx, a.integ)
	require.NoError(t, err)
	require.Equal(t, types.BackfillPending, row.BackfillState.Status, "the backfill is open again for the same job")
	require.Equal(t, jobID, row.BackfillState.JobID)
	require.Empty(t, row.BackfillState.Error)
	require.Equal(t, st.Checkpoint, row.BackfillState.Checkpoint, "it resumes from its checkpoint")

	// A job that can still run is not restarted.
	_, err = c.jobs.RestartJob(ctx, connect.NewRequest(&consolev1.RestartJobRequest{JobId: jobID}))
	requireCode(t, err, connect.CodeFailedPrecondition)

	// A cancelled webhook job restarts.
	aIn, err := e.q.GetIntegration(ctx, a.integ)
	require.NoError(t, err)
	webhook := e.deliveryJob(aIn.InstallationID, aIn.ProviderResourceID)
	_, err = e.river.JobCancel(ctx, webhook)
	require.NoError(t, err)
	resp, err = c.jobs.RestartJob(ctx, connect.NewRequest(&consolev1.RestartJobRequest{JobId: webhook}))
	require.NoError(t, err)
	require.Equal(t, consolev1.JobState_JOB_STATE_AVAILABLE, resp.Msg.GetJob().GetState())

	// A backfill job that a newer backfill replaced would do nothing: refused, nothing written.
	old := e.insertJob(jobs.BackfillRun{IntegrationID: a.integ, DepthDays: 30, EntityTypes: []string{"issue"}})
	e.discard(old, "boom")
	before := e.snapshot()
	_, err = c.jobs.RestartJob(ctx, connect.NewRequest(&consolev1.RestartJobRequest{JobId: old}))
	requireCode(t, err, connect.CodeFailedPrecondition)
	require.Equal(t, before, e.snapshot())

	// Jobs that are not the org's are NotFound: unknown ids, gateway jobs, bad input.
	gw := e.insertJob(jobs.TokensReencrypt{})
	e.discard(gw, "x")
	before = e.snapshot()
	for _, id := range []int64{gw, 999999} {
		_, err = c.jobs.RestartJob(ctx, connect.NewRequest(&consolev1.RestartJobRequest{JobId: id}))
		requireCode(t, err, connect.CodeNotFound)
	}
	_, err = c.jobs.RestartJob(ctx, connect.NewRequest(&consolev1.RestartJobRequest{}))
	requireCode(t, err, connect.CodeInvalidArgument)
	require.Equal(t, before, e.snapshot())
}
