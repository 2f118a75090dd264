package api_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/api"
	"github.com/lightfastai/connections/console/internal/providerapi"
	"github.com/lightfastai/connections/console/internal/simtest"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/vault"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// The tests in this file inject faults into the shared simulator, so they do not call t.Parallel: Go runs
// them one by one before it releases the parallel tests of the package.

func TestProviderFailureIsUnavailableAndWritesNothing(t *testing.T) {
	sim := simtest.Get(t)
	e := setupWith(t, func(d *api.Deps) {
		// A short timeout keeps the "too slow" case quick; the simulator answers in milliseconds otherwise.
		d.Providers = providerapi.New(providerapi.Config{
			GitHubAPIURL: sim.GitHubAPIURL, VercelAPIURL: sim.VercelAPIURL, LinearAPIURL: sim.LinearAPIURL, SentryURL: sim.SentryURL,
			Timeout: 500 * time.Millisecond,
		})
	})
	ctx := context.Background()
	c := e.admin("org_a")
	ghInst, _, repos := e.github("org_a", 2)
	vcInst, _ := e.vercel("org_a", 1)
	lnInst, _ := e.linear("org_a", 1)
	seInst, _ := e.sentry("org_a", 1)
	ws := e.workspace("org_a", "w")
	linked, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: ghInst.ID, Repositories: ghRepos(repos[0].ID),
	}))
	require.NoError(t, err)
	integ := linked.Msg.GetIntegrations()[0].GetId()
	t.Cleanup(func() { e.sim.ClearFaults(t) })
	before := e.snapshot()

	cases := []struct {
		name     string
		fault    map[string]any
		call     func() error
		provider string
		detail   string
	}{
		{"validate, github down", map[string]any{"key": "github.installation.repositories", "status": 502}, func() error {
			_, err := c.gh.ValidateInstallations(ctx, connect.NewRequest(&consolev1.ValidateInstallationsRequest{InstallationId: ghInst.ID}))
			return err
		}, "github", "status 502"},
		{"link, github down", map[string]any{"key": "github.installation.repositories", "status": 500}, func() error {
			_, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
				WorkspaceId: ws.ID, InstallationId: ghInst.ID, Repositories: ghRepos(repos[1].ID), StartBackfill: true,
			}))
			return err
		}, "github", "status 500"},
		{"detect config, contents failing", map[string]any{"key": "github.repos.contents", "status": 503}, func() error {
			_, err := c.gh.DetectConfig(ctx, connect.NewRequest(&consolev1.DetectConfigRequest{Target: &consolev1.DetectConfigRequest_IntegrationId{IntegrationId: integ}}))
			return err
		}, "github", "status 503"},
		{"vercel rate limited", map[string]any{"key": "vercel.projects.list", "rateLimit": true, "retryAfter": "120s"}, func() error {
			_, err := c.vc.ListProjects(ctx, connect.NewRequest(&consolev1.ListProjectsRequest{InstallationId: vcInst.ID}))
			return err
		}, "vercel", "rate limit"},
		{"linear link, graphql failing", map[string]any{"key": "linear.graphql.teams", "status": 500}, func() error {
			_, err := c.integ.BulkLinkLinearTeams(ctx, connect.NewRequest(&consolev1.BulkLinkLinearTeamsRequest{
				WorkspaceId: ws.ID, InstallationId: lnInst.ID, Teams: []*consolev1.LinearTeam{{Id: "any"}},
			}))
			return err
		}, "linear", "status 500"},
		{"sentry too slow", map[string]any{"key": "sentry.projects.list", "delay": "5s"}, func() error {
			_, err := c.se.ListSentryProjects(ctx, connect.NewRequest(&consolev1.ListSentryProjectsRequest{InstallationId: seInst.ID}))
			return err
		}, "sentry", "timed out"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.sim.Fault(t, tc.fault)
			cerr := requireConnectError(t, tc.call(), connect.CodeUnavailable)
			require.Contains(t, cerr.Message(), tc.provider, "the message names the provider")
			require.Contains(t, cerr.Message(), tc.detail)
			e.sim.ClearFaults(t)
			require.Equal(t, before, e.snapshot(), "nothing half-written")
		})
	}
}

func TestVaultStatesMapToCodes(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, _, _ := e.github("org_a", 1)

	_, err := e.pool.Exec(ctx, `UPDATE lightfast_gw_tokens SET expires_at = now() - interval '1 minute' WHERE installation_id = $1`, inst.ID)
	require.NoError(t, err)
	_, err = c.gh.ListRepositories(ctx, connect.NewRequest(&consolev1.ListRepositoriesRequest{InstallationId: inst.ID}))
	cerr := requireConnectError(t, err, connect.CodeUnavailable)
	require.Contains(t, cerr.Message(), "expired")

	reason := vault.StatusReasonReauthRequired
	_, err = e.q.SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: inst.ID, Status: "error", StatusReason: &reason})
	require.NoError(t, err)
	_, err = c.gh.ListRepositories(ctx, connect.NewRequest(&consolev1.ListRepositoriesRequest{InstallationId: inst.ID}))
	requireCode(t, err, connect.CodeFailedPrecondition)

	_, err = e.pool.Exec(ctx, `DELETE FROM lightfast_gw_tokens WHERE installation_id = $1`, inst.ID)
	require.NoError(t, err)
	_, err = e.q.SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: inst.ID, Status: "active"})
	require.NoError(t, err)
	_, err = c.gh.ListRepositories(ctx, connect.NewRequest(&consolev1.ListRepositoriesRequest{InstallationId: inst.ID}))
	requireCode(t, err, connect.CodeNotFound)
}
