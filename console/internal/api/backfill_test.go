package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

// backfillClient calls BackfillService with tok as the bearer ("" for none).
func (e *env) backfillClient(tok string) consolev1connect.BackfillServiceClient {
	v := ""
	if tok != "" {
		v = "Bearer " + tok
	}
	return consolev1connect.NewBackfillServiceClient(http.DefaultClient, e.url, withHeader("Authorization", v))
}

// linkedRepo links one new simulated repository into a new workspace of org and returns the integration id.
func (e *env) linkedRepo(org string) string {
	e.t.Helper()
	inst, _, repos := e.github(org, 1)
	ws := e.workspace(org, "w-"+strings.ToLower(inst.ID[:6]))
	resp, err := e.admin(org).integ.BulkLinkGitHubRepositories(context.Background(), connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID),
	}))
	require.NoError(e.t, err)
	return resp.Msg.GetIntegrations()[0].GetId()
}

func (e *env) backfillJobs() (n int, args []string) {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT args::text FROM river_job WHERE kind = 'backfill.run' ORDER BY id`)
	require.NoError(e.t, err)
	defer rows.Close()
	for rows.Next() {
		var a string
		require.NoError(e.t, rows.Scan(&a))
		args = append(args, a)
	}
	require.NoError(e.t, rows.Err())
	return len(args), args
}

func TestBackfillStartStatusCancel(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	integ := e.linkedRepo("org_a")
	bf := e.backfillClient(token(t, "user_a", "org_a", "member"))

	st, err := bf.GetBackfillStatus(ctx, connect.NewRequest(&consolev1.GetBackfillStatusRequest{IntegrationId: integ}))
	require.NoError(t, err)
	require.Equal(t, consolev1.BackfillStatus_BACKFILL_STATUS_IDLE, st.Msg.GetBackfill().GetStatus())

	// Entity types run in the provider's order whatever order they are asked in.
	start, err := bf.StartBackfill(ctx, connect.NewRequest(&consolev1.StartBackfillRequest{
		IntegrationId: integ, DepthDays: 7, EntityTypes: []string{"issue", "pull_request", "issue"},
	}))
	require.NoError(t, err)
	require.Equal(t, consolev1.BackfillStatus_BACKFILL_STATUS_PENDING, start.Msg.GetBackfill().GetStatus())
	n, args := e.backfillJobs()
	require.Equal(t, 1, n)
	require.JSONEq(t, `{"integrationId":"`+integ+`","depthDays":7,"entityTypes":["pull_request","issue"]}`, args[0])

	// One active backfill per integration: the second is AlreadyExists, carrying the first one's state.
	_, err = bf.StartBackfill(ctx, connect.NewRequest(&consolev1.StartBackfillRequest{IntegrationId: integ}))
	cerr := requireConnectError(t, err, connect.CodeAlreadyExists)
	require.Contains(t, cerr.Message(), "already pending")
	require.Len(t, cerr.Details(), 1)
	detail, err := cerr.Details()[0].Value()
	require.NoError(t, err)
	require.Equal(t, consolev1.BackfillStatus_BACKFILL_STATUS_PENDING, detail.(*consolev1.BackfillState).GetStatus())
	n, _ = e.backfillJobs()
	require.Equal(t, 1, n, "no second job")

	cancel, err := bf.CancelBackfill(ctx, connect.NewRequest(&consolev1.CancelBackfillRequest{IntegrationId: integ}))
	require.NoError(t, err)
	require.Equal(t, consolev1.BackfillStatus_BACKFILL_STATUS_CANCELLED, cancel.Msg.GetBackfill().GetStatus())
	require.NotNil(t, cancel.Msg.GetBackfill().GetCompletedAt())
	var jobState string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT state FROM river_job WHERE kind = 'backfill.run'`).Scan(&jobState))
	require.Equal(t, "cancelled", jobState, "a job that had not started never runs")

	again, err := bf.CancelBackfill(ctx, connect.NewRequest(&consolev1.CancelBackfillRequest{IntegrationId: integ}))
	require.NoError(t, err)
	require.Equal(t, cancel.Msg.GetBackfill().GetCompletedAt().AsTime(), again.Msg.GetBackfill().GetCompletedAt().AsTime(), "an ended backfill is unchanged")

	// After it ended, a new one may start; the default depth is 30 days and every entity type the sync
	// config records.
	restart, err := bf.StartBackfill(ctx, connect.NewRequest(&consolev1.StartBackfillRequest{IntegrationId: integ}))
	require.NoError(t, err)
	require.Equal(t, consolev1.BackfillStatus_BACKFILL_STATUS_PENDING, restart.Msg.GetBackfill().GetStatus())
	n, args = e.backfillJobs()
	require.Equal(t, 2, n)
	require.JSONEq(t, `{"integrationId":"`+integ+`","depthDays":30,"entityTypes":["pull_request","issue","release"]}`, args[1])
}

func TestBackfillBadInputsWriteNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	mine := e.linkedRepo("org_a")
	theirs := e.linkedRepo("org_b")
	// An integration whose installation went away is kept, inactive (as disconnect and the Gateway's
	// lifecycle events leave it).
	inactive := e.linkedRepo("org_a")
	row, err := e.q.GetIntegration(ctx, inactive)
	require.NoError(t, err)
	_, err = e.q.DeactivateIntegrationsForInstallation(ctx, row.InstallationID)
	require.NoError(t, err)
	member := e.backfillClient(token(t, "user_a", "org_a", "member"))
	before := e.snapshot()

	start := func(c consolev1connect.BackfillServiceClient, r *consolev1.StartBackfillRequest) func() error {
		return func() error { _, err := c.StartBackfill(ctx, connect.NewRequest(r)); return err }
	}
	status := func(c consolev1connect.BackfillServiceClient, id string) func() error {
		return func() error {
			_, err := c.GetBackfillStatus(ctx, connect.NewRequest(&consolev1.GetBackfillStatusRequest{IntegrationId: id}))
			return err
		}
	}
	cancel := func(c consolev1connect.BackfillServiceClient, id string) func() error {
		return func() error {
			_, err := c.CancelBackfill(ctx, connect.NewRequest(&consolev1.CancelBackfillRequest{IntegrationId: id}))
			return err
		}
	}
	for _, tc := range []struct {
		name string
		call func() error
		code connect.Code
	}{
		{"no session", start(e.backfillClient(""), &consolev1.StartBackfillRequest{IntegrationId: mine}), connect.CodeUnauthenticated},
		{"bad session", start(e.backfillClient("not-a-jwt"), &consolev1.StartBackfillRequest{IntegrationId: mine}), connect.CodeUnauthenticated},
		{"no organization", start(e.backfillClient(token(t, "user_a", "", "member")), &consolev1.StartBackfillRequest{IntegrationId: mine}), connect.CodePermissionDenied},
		{"no integration id", start(member, &consolev1.StartBackfillRequest{}), connect.CodeInvalidArgument},
		{"integration id too long", start(member, &consolev1.StartBackfillRequest{IntegrationId: strings.Repeat("x", 192)}), connect.CodeInvalidArgument},
		{"negative depth", start(member, &consolev1.StartBackfillRequest{IntegrationId: mine, DepthDays: -1}), connect.CodeInvalidArgument},
		{"depth over a year", start(member, &consolev1.StartBackfillRequest{IntegrationId: mine, DepthDays: 366}), connect.CodeInvalidArgument},
		{"entity type of another provider", start(member, &consolev1.StartBackfillRequest{IntegrationId: mine, EntityTypes: []string{"deployment"}}), connect.CodeInvalidArgument},
		{"unknown entity type", start(member, &consolev1.StartBackfillRequest{IntegrationId: mine, EntityTypes: []string{"pull_request", "commits"}}), connect.CodeInvalidArgument},
		{"unknown integration", start(member, &consolev1.StartBackfillRequest{IntegrationId: "does-not-exist"}), connect.CodeNotFound},
		{"another org's integration", start(member, &consolev1.StartBackfillRequest{IntegrationId: theirs}), connect.CodeNotFound},
		{"inactive integration", start(member, &consolev1.StartBackfillRequest{IntegrationId: inactive}), connect.CodeFailedPrecondition},
		{"status: no integration id", status(member, ""), connect.CodeInvalidArgument},
		{"status: another org's integration", status(member, theirs), connect.CodeNotFound},
		{"status: no session", status(e.backfillClient(""), mine), connect.CodeUnauthenticated},
		{"cancel: no integration id", cancel(member, ""), connect.CodeInvalidArgument},
		{"cancel: another org's integration", cancel(member, theirs), connect.CodeNotFound},
		{"cancel: unknown integration", cancel(member, "does-not-exist"), connect.CodeNotFound},
		{"cancel: no session", cancel(e.backfillClient(""), mine), connect.CodeUnauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireCode(t, tc.call(), tc.code)
		})
	}
	require.Equal(t, before, e.snapshot(), "nothing written")
}

func TestLinkWithDefaultBackfillOptions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	inst, _, repos := e.github("org_a", 1)
	ws := e.workspace("org_a", "w")
	resp, err := e.admin("org_a").integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID), StartBackfill: true,
	}))
	require.NoError(t, err)
	integ := resp.Msg.GetIntegrations()[0]
	require.Equal(t, consolev1.BackfillStatus_BACKFILL_STATUS_PENDING, integ.GetBackfill().GetStatus())
	_, args := e.backfillJobs()
	require.Len(t, args, 1)
	require.JSONEq(t, `{"integrationId":"`+integ.GetId()+`","depthDays":30,"entityTypes":["pull_request","issue","release"]}`, args[0])

	// The backfill it started is the integration's one active backfill.
	_, err = e.backfillClient(token(t, "user_a", "org_a", "member")).StartBackfill(ctx,
		connect.NewRequest(&consolev1.StartBackfillRequest{IntegrationId: integ.GetId()}))
	requireCode(t, err, connect.CodeAlreadyExists)
}
