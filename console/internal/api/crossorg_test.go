package api_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// orgData is one organisation's connections, workspace and integration.
type orgData struct {
	gh, vc, ln, se string // installation ids
	repo           int64  // a repository of the GitHub connection
	repoFullName   string
	ws             string
	integ          string
}

func seedOrg(t *testing.T, e *env, org string) orgData {
	t.Helper()
	ctx := context.Background()
	gh, _, repos := e.github(org, 2)
	vc, _ := e.vercel(org, 1)
	ln, _ := e.linear(org, 1)
	se, _ := e.sentry(org, 1)
	ws := e.workspace(org, "shared-slug")
	resp, err := e.admin(org).integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: gh.ID, Repositories: ghRepos(repos[0].ID),
	}))
	require.NoError(t, err)
	return orgData{gh: gh.ID, vc: vc.ID, ln: ln.ID, se: se.ID, repo: repos[1].ID, repoFullName: repos[1].FullName,
		ws: ws.ID, integ: resp.Msg.GetIntegrations()[0].GetId()}
}

// TestCrossOrgIsNotFound calls every org-scoped procedure as org B's admin with org A's ids: each is
// NotFound (never PermissionDenied, which would reveal that the id exists), and nothing changes.
func TestCrossOrgIsNotFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	a := seedOrg(t, e, "org_a")
	b := seedOrg(t, e, "org_b")
	c := e.admin("org_b")
	bf := e.backfillClient(token(t, "user_org_b", "org_b", "admin"))
	// A has an observation, so a leak through ListObservations would show.
	_, err := e.q.InsertObservation(ctx, dbq.InsertObservationParams{
		ID: ids.New(), WorkspaceID: a.ws, IntegrationID: &a.integ, Provider: types.GitHub, SourceType: "push",
		SourceID: "github:push:secret-of-a", Title: "org A's push", OccurredAt: time.Now(),
	})
	require.NoError(t, err)
	// A has a failed job, so a restart across orgs would show.
	aJob := e.insertJob(jobs.SyncConfig{IntegrationID: a.integ})
	e.discard(aJob, "sync config: boom")
	before := e.snapshot()
	autoSync := false

	calls := map[string]func() error{
		"GetWorkspace": func() error {
			_, err := c.ws.GetWorkspace(ctx, connect.NewRequest(&consolev1.GetWorkspaceRequest{Workspace: &consolev1.GetWorkspaceRequest_WorkspaceId{WorkspaceId: a.ws}}))
			return err
		},
		"GetConnection": func() error {
			_, err := c.conn.GetConnection(ctx, connect.NewRequest(&consolev1.GetConnectionRequest{Connection: &consolev1.GetConnectionRequest_InstallationId{InstallationId: a.gh}}))
			return err
		},
		"Disconnect": func() error {
			_, err := c.conn.Disconnect(ctx, connect.NewRequest(&consolev1.DisconnectRequest{InstallationId: a.gh}))
			return err
		},
		"ConfirmConnection": func() error {
			_, err := c.conn.ConfirmConnection(ctx, connect.NewRequest(&consolev1.ConfirmConnectionRequest{InstallationId: a.gh}))
			return err
		},
		"GetInstallations": func() error {
			_, err := c.gh.GetInstallations(ctx, connect.NewRequest(&consolev1.GetInstallationsRequest{InstallationId: a.gh}))
			return err
		},
		"ValidateInstallations": func() error {
			_, err := c.gh.ValidateInstallations(ctx, connect.NewRequest(&consolev1.ValidateInstallationsRequest{InstallationId: a.gh}))
			return err
		},
		"ListRepositories": func() error {
			_, err := c.gh.ListRepositories(ctx, connect.NewRequest(&consolev1.ListRepositoriesRequest{InstallationId: a.gh}))
			return err
		},
		"DetectConfig by integration": func() error {
			_, err := c.gh.DetectConfig(ctx, connect.NewRequest(&consolev1.DetectConfigRequest{Target: &consolev1.DetectConfigRequest_IntegrationId{IntegrationId: a.integ}}))
			return err
		},
		"DetectConfig by repository": func() error {
			_, err := c.gh.DetectConfig(ctx, connect.NewRequest(&consolev1.DetectConfigRequest{Target: &consolev1.DetectConfigRequest_Repository_{
				Repository: &consolev1.DetectConfigRequest_Repository{InstallationId: a.gh, FullName: a.repoFullName},
			}}))
			return err
		},
		"GetVercelConnection": func() error {
			_, err := c.vc.GetVercelConnection(ctx, connect.NewRequest(&consolev1.GetVercelConnectionRequest{InstallationId: a.vc}))
			return err
		},
		"ListProjects": func() error {
			_, err := c.vc.ListProjects(ctx, connect.NewRequest(&consolev1.ListProjectsRequest{InstallationId: a.vc}))
			return err
		},
		"ListTeams": func() error {
			_, err := c.ln.ListTeams(ctx, connect.NewRequest(&consolev1.ListTeamsRequest{InstallationId: a.ln}))
			return err
		},
		"ListSentryProjects": func() error {
			_, err := c.se.ListSentryProjects(ctx, connect.NewRequest(&consolev1.ListSentryProjectsRequest{InstallationId: a.se}))
			return err
		},
		"ListSources": func() error {
			_, err := c.integ.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: a.ws}))
			return err
		},
		"BulkLinkGitHubRepositories into A's workspace": func() error {
			_, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
				WorkspaceId: a.ws, InstallationId: b.gh, Repositories: ghRepos(b.repo),
			}))
			return err
		},
		"BulkLinkGitHubRepositories through A's connection": func() error {
			_, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
				WorkspaceId: b.ws, InstallationId: a.gh, Repositories: ghRepos(a.repo),
			}))
			return err
		},
		"BulkLinkGitHubRepositories of A's repository through B's connection": func() error {
			_, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
				WorkspaceId: b.ws, InstallationId: b.gh, Repositories: ghRepos(a.repo),
			}))
			return err
		},
		"BulkLinkVercelProjects": func() error {
			_, err := c.integ.BulkLinkVercelProjects(ctx, connect.NewRequest(&consolev1.BulkLinkVercelProjectsRequest{
				WorkspaceId: b.ws, InstallationId: a.vc, Projects: []*consolev1.VercelProject{{Id: "prj_x"}},
			}))
			return err
		},
		"LinkVercelProject": func() error {
			_, err := c.integ.LinkVercelProject(ctx, connect.NewRequest(&consolev1.LinkVercelProjectRequest{
				WorkspaceId: a.ws, InstallationId: b.vc, Project: &consolev1.VercelProject{Id: "prj_x"},
			}))
			return err
		},
		"BulkLinkLinearTeams": func() error {
			_, err := c.integ.BulkLinkLinearTeams(ctx, connect.NewRequest(&consolev1.BulkLinkLinearTeamsRequest{
				WorkspaceId: b.ws, InstallationId: a.ln, Teams: []*consolev1.LinearTeam{{Id: "t"}},
			}))
			return err
		},
		"BulkLinkSentryProjects": func() error {
			_, err := c.integ.BulkLinkSentryProjects(ctx, connect.NewRequest(&consolev1.BulkLinkSentryProjectsRequest{
				WorkspaceId: b.ws, InstallationId: a.se, Projects: []*consolev1.SentryProject{{Id: "1"}},
			}))
			return err
		},
		"UpdateEvents": func() error {
			_, err := c.integ.UpdateEvents(ctx, connect.NewRequest(&consolev1.UpdateEventsRequest{IntegrationId: a.integ, Events: []string{"push"}}))
			return err
		},
		"UnlinkIntegration": func() error {
			_, err := c.integ.UnlinkIntegration(ctx, connect.NewRequest(&consolev1.UnlinkIntegrationRequest{IntegrationId: a.integ}))
			return err
		},
		"StartBackfill": func() error {
			_, err := bf.StartBackfill(ctx, connect.NewRequest(&consolev1.StartBackfillRequest{IntegrationId: a.integ}))
			return err
		},
		"GetBackfillStatus": func() error {
			_, err := bf.GetBackfillStatus(ctx, connect.NewRequest(&consolev1.GetBackfillStatusRequest{IntegrationId: a.integ}))
			return err
		},
		"CancelBackfill": func() error {
			_, err := bf.CancelBackfill(ctx, connect.NewRequest(&consolev1.CancelBackfillRequest{IntegrationId: a.integ}))
			return err
		},
		"UpdateSyncConfig": func() error {
			_, err := c.integ.UpdateSyncConfig(ctx, connect.NewRequest(&consolev1.UpdateSyncConfigRequest{IntegrationId: a.integ, AutoSync: &autoSync}))
			return err
		},
		"ListJobs": func() error {
			_, err := c.jobs.ListJobs(ctx, connect.NewRequest(&consolev1.ListJobsRequest{WorkspaceId: a.ws}))
			return err
		},
		"ListJobs of A's integration in B's workspace": func() error {
			_, err := c.jobs.ListJobs(ctx, connect.NewRequest(&consolev1.ListJobsRequest{WorkspaceId: b.ws, IntegrationId: a.integ}))
			return err
		},
		"RestartJob": func() error {
			_, err := c.jobs.RestartJob(ctx, connect.NewRequest(&consolev1.RestartJobRequest{JobId: aJob}))
			return err
		},
		"CreateWorkspace with A's connection": func() error {
			_, err := c.ws.CreateWorkspace(ctx, connect.NewRequest(&consolev1.CreateWorkspaceRequest{Name: "Stolen", Resources: &consolev1.WorkspaceResources{
				InstallationId: a.gh, ResourceIds: []string{strconv.FormatInt(a.repo, 10)},
			}}))
			return err
		},
		"ListObservations": func() error {
			_, err := c.obs.ListObservations(ctx, connect.NewRequest(&consolev1.ListObservationsRequest{WorkspaceId: a.ws}))
			return err
		},
	}
	requireEveryProcedureCovered(t, calls)
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			requireCode(t, call(), connect.CodeNotFound)
		})
	}
	require.Equal(t, before, e.snapshot(), "org B changed nothing of org A's (or anything at all)")

	// Lists and provider-wide look-ups show B only its own.
	list, err := c.ws.ListWorkspaces(ctx, connect.NewRequest(&consolev1.ListWorkspacesRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetWorkspaces(), 1)
	require.Equal(t, b.ws, list.Msg.GetWorkspaces()[0].GetId())
	conns, err := c.conn.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	require.NoError(t, err)
	require.Len(t, conns.Msg.GetConnections(), 4)
	for _, cn := range conns.Msg.GetConnections() {
		require.NotContains(t, []string{a.gh, a.vc, a.ln, a.se}, cn.GetInstallationId())
	}
	inst, err := c.gh.GetInstallations(ctx, connect.NewRequest(&consolev1.GetInstallationsRequest{}))
	require.NoError(t, err)
	require.Len(t, inst.Msg.GetConnections(), 1)
	require.Equal(t, b.gh, inst.Msg.GetConnections()[0].GetInstallationId())
	byProvider, err := c.conn.GetConnection(ctx, connect.NewRequest(&consolev1.GetConnectionRequest{Connection: &consolev1.GetConnectionRequest_Provider{Provider: consolev1.Provider_PROVIDER_SENTRY}}))
	require.NoError(t, err)
	require.Equal(t, b.se, byProvider.Msg.GetConnection().GetInstallationId())
	vc, err := c.vc.GetVercelConnection(ctx, connect.NewRequest(&consolev1.GetVercelConnectionRequest{}))
	require.NoError(t, err)
	require.Equal(t, b.vc, vc.Msg.GetConnection().GetInstallationId())
	obs, err := c.obs.ListObservations(ctx, connect.NewRequest(&consolev1.ListObservationsRequest{WorkspaceId: b.ws, IntegrationId: a.integ}))
	if err == nil {
		require.Empty(t, obs.Msg.GetObservations(), "another org's integration filters B's own workspace to nothing")
	} else {
		requireCode(t, err, connect.CodeNotFound)
	}
	aInst, err := e.q.GetInstallation(ctx, a.gh)
	require.NoError(t, err)
	resolved, err := c.ws.ResolveFromGitHubOrgSlug(ctx, connect.NewRequest(&consolev1.ResolveFromGitHubOrgSlugRequest{GithubOrgSlug: *aInst.AccountLogin}))
	require.NoError(t, err)
	require.Empty(t, resolved.Msg.GetWorkspaces(), "A's GitHub account resolves to none of B's workspaces, and never to A's")
	slug, err := c.ws.GetWorkspace(ctx, connect.NewRequest(&consolev1.GetWorkspaceRequest{Workspace: &consolev1.GetWorkspaceRequest_Slug{Slug: "shared-slug"}}))
	require.NoError(t, err)
	require.Equal(t, b.ws, slug.Msg.GetWorkspace().GetId(), "the same slug resolves to the caller's own workspace")
}

// notAddressedByID are the procedures that take no other org's id to try: they create in, or list, the
// caller's own org (the lists are checked above), or they are M2M procedures authenticated by a service
// key rather than a user's org.
var notAddressedByID = map[string]string{
	"CreateWorkspace":                "creates in the caller's org",
	"ListWorkspaces":                 "lists the caller's org (checked above)",
	"GetAuthorizeURL":                "creates a state for the caller's org",
	"ListConnections":                "lists the caller's org (checked above)",
	"ResolveFromGitHubOrgSlug":       "lists the caller's org (checked above)",
	"FindByGithubRepoId":             "M2M: service key, not org-scoped",
	"GetSourceIdByGithubRepoId":      "M2M: service key, not org-scoped",
	"UpdateGithubSyncStatus":         "M2M: service key, not org-scoped",
	"UpdateGithubConfigStatus":       "M2M: service key, not org-scoped",
	"MarkGithubInstallationInactive": "M2M: service key, not org-scoped",
	"MarkGithubDeleted":              "M2M: service key, not org-scoped",
	"UpdateGithubMetadata":           "M2M: service key, not org-scoped",
}

// requireEveryProcedureCovered walks every method of every service in the lightfast.console.v1 package
// and fails when one is neither tried cross-org in calls (by its name, or its name and a space) nor
// listed in notAddressedByID: a new procedure cannot skip this test silently.
func requireEveryProcedureCovered(t *testing.T, calls map[string]func() error) {
	t.Helper()
	methods := 0
	protoregistry.GlobalFiles.RangeFilesByPackage("lightfast.console.v1", func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			svc := fd.Services().Get(i)
			for j := range svc.Methods().Len() {
				name := string(svc.Methods().Get(j).Name())
				methods++
				if _, ok := notAddressedByID[name]; ok {
					continue
				}
				covered := false
				for key := range calls {
					if key == name || strings.HasPrefix(key, name+" ") {
						covered = true
					}
				}
				require.True(t, covered, "%s.%s is not tried with another org's ids", svc.Name(), name)
			}
		}
		return true
	})
	require.GreaterOrEqual(t, methods, 38, "the generated descriptors are registered")
}
