package pages

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/db/platform"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

const (
	devSecret = "pages-test-secret"
	origin    = "http://console.test:4107"
	// markup is a value that must never reach a page unescaped.
	markup = `<script>alert("x")</script>`
)

// fakeAPI stands in for the Console API behind the in-process clients. It serves one organisation, org_a,
// and records the session tokens it was called with. The embedded Unimplemented handlers answer every
// procedure it does not override.
type fakeAPI struct {
	consolev1connect.UnimplementedWorkspaceServiceHandler
	consolev1connect.UnimplementedConnectionServiceHandler
	consolev1connect.UnimplementedIntegrationServiceHandler
	consolev1connect.UnimplementedObservationServiceHandler
	consolev1connect.UnimplementedGitHubServiceHandler
	consolev1connect.UnimplementedVercelServiceHandler
	consolev1connect.UnimplementedLinearServiceHandler
	consolev1connect.UnimplementedSentryServiceHandler
	consolev1connect.UnimplementedJobServiceHandler

	tokens []string
	// obsRequests are the workspace-wide ListObservations requests (the page's observations list).
	obsRequests []*consolev1.ListObservationsRequest
}

var (
	_ consolev1connect.WorkspaceServiceClient  = (*fakeAPI)(nil)
	_ consolev1connect.ConnectionServiceClient = (*fakeAPI)(nil)
	_ consolev1connect.SentryServiceClient     = (*fakeAPI)(nil)
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func (f *fakeAPI) seen(ctx context.Context) {
	tok, _ := ctx.Value(sessionKey{}).(string)
	f.tokens = append(f.tokens, tok)
}

func (f *fakeAPI) ListWorkspaces(ctx context.Context, _ *connect.Request[consolev1.ListWorkspacesRequest]) (*connect.Response[consolev1.ListWorkspacesResponse], error) {
	f.seen(ctx)
	return connect.NewResponse(&consolev1.ListWorkspacesResponse{Workspaces: []*consolev1.Workspace{
		{Id: "ws_1", Name: "Docs " + markup, Slug: "docs"},
	}}), nil
}

func (f *fakeAPI) GetWorkspace(ctx context.Context, req *connect.Request[consolev1.GetWorkspaceRequest]) (*connect.Response[consolev1.GetWorkspaceResponse], error) {
	f.seen(ctx)
	if req.Msg.GetWorkspaceId() != "ws_1" {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("workspace not found"))
	}
	return connect.NewResponse(&consolev1.GetWorkspaceResponse{Workspace: &consolev1.Workspace{Id: "ws_1", Name: "Docs", Slug: "docs"}}), nil
}

func (f *fakeAPI) ListConnections(ctx context.Context, _ *connect.Request[consolev1.ListConnectionsRequest]) (*connect.Response[consolev1.ListConnectionsResponse], error) {
	f.seen(ctx)
	return connect.NewResponse(&consolev1.ListConnectionsResponse{Connections: []*consolev1.Connection{
		{InstallationId: "inst_gh", Provider: consolev1.Provider_PROVIDER_GITHUB, ExternalId: "77", AccountLogin: "octo" + markup,
			Status: consolev1.ConnectionStatus_CONNECTION_STATUS_ACTIVE, CreatedAt: timestamppb.New(t0)},
		{InstallationId: "inst_se", Provider: consolev1.Provider_PROVIDER_SENTRY, ExternalId: "uuid-1", AccountLogin: "acme",
			Status: consolev1.ConnectionStatus_CONNECTION_STATUS_ACTIVE, CreatedAt: timestamppb.New(t0)},
		{InstallationId: "inst_li", Provider: consolev1.Provider_PROVIDER_LINEAR, ExternalId: "org-1", AccountLogin: "lin",
			Status: consolev1.ConnectionStatus_CONNECTION_STATUS_ERROR, StatusReason: "reauth_required", CreatedAt: timestamppb.New(t0)},
	}}), nil
}

// confirmable is the pending connection ConfirmConnection confirms; "inst_down" fails as a broken API
// would, and every other id is NotFound (somebody else's, or too late).
const confirmable = "V1StGXR8_Z5jdHi6B-myT"

func (f *fakeAPI) ConfirmConnection(ctx context.Context, req *connect.Request[consolev1.ConfirmConnectionRequest]) (*connect.Response[consolev1.ConfirmConnectionResponse], error) {
	f.seen(ctx)
	switch req.Msg.GetInstallationId() {
	case confirmable:
		return connect.NewResponse(&consolev1.ConfirmConnectionResponse{Connection: &consolev1.Connection{
			InstallationId: confirmable, Provider: consolev1.Provider_PROVIDER_GITHUB, AccountLogin: "octo" + markup,
			Status: consolev1.ConnectionStatus_CONNECTION_STATUS_ACTIVE,
		}}), nil
	case "inst_down":
		return nil, connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	return nil, connect.NewError(connect.CodeNotFound, errors.New("connection not found"))
}

func (f *fakeAPI) ListSources(ctx context.Context, req *connect.Request[consolev1.ListSourcesRequest]) (*connect.Response[consolev1.ListSourcesResponse], error) {
	f.seen(ctx)
	total := int32(10)
	return connect.NewResponse(&consolev1.ListSourcesResponse{Integrations: []*consolev1.Integration{
		{Id: "int_gh", WorkspaceId: req.Msg.GetWorkspaceId(), InstallationId: "inst_gh", Provider: consolev1.Provider_PROVIDER_GITHUB,
			ProviderResourceId: "101", ResourceName: "octo/one", IsActive: true, DocumentCount: 4,
			SyncConfig: &consolev1.SyncConfig{Events: []string{"push", "release"}, Branches: []string{"main", "release/*"}, Paths: []string{"docs/**"}, AutoSync: false},
			Backfill:   &consolev1.BackfillState{Status: consolev1.BackfillStatus_BACKFILL_STATUS_RUNNING, Processed: 3, Total: &total}},
		{Id: "int_vc", WorkspaceId: req.Msg.GetWorkspaceId(), InstallationId: "inst_vc_gone", Provider: consolev1.Provider_PROVIDER_VERCEL,
			ProviderResourceId: "prj_1", ResourceName: "site " + markup, IsActive: false},
		// A project of the same name in another team: both rows say which is which.
		{Id: "int_vc2", WorkspaceId: req.Msg.GetWorkspaceId(), InstallationId: "inst_vc_b", Provider: consolev1.Provider_PROVIDER_VERCEL,
			ProviderResourceId: "prj_2", ResourceName: "site " + markup, IsActive: true,
			ResourceMeta: &consolev1.ResourceMeta{Resource: &consolev1.ResourceMeta_Vercel{Vercel: &consolev1.VercelProjectMeta{
				ProjectId: "prj_2", ProjectName: "site " + markup, TeamSlug: "team-b"}}}},
		{Id: "int_li", WorkspaceId: req.Msg.GetWorkspaceId(), InstallationId: "inst_li", Provider: consolev1.Provider_PROVIDER_LINEAR,
			ProviderResourceId: "team_1", ResourceName: "Engineering", IsActive: true,
			ResourceMeta: &consolev1.ResourceMeta{Resource: &consolev1.ResourceMeta_Linear{Linear: &consolev1.LinearTeamMeta{
				TeamId: "team_1", TeamKey: "ENG", TeamName: "Engineering"}}}},
	}, Unreadable: []*consolev1.UnreadableIntegration{
		{Id: "int_bad", WorkspaceId: req.Msg.GetWorkspaceId(), InstallationId: "inst_gh", Provider: consolev1.Provider_PROVIDER_GITHUB,
			ProviderResourceId: "103", ResourceName: "octo/three", Reason: "resource_meta: cannot read repoId " + markup},
	}}), nil
}

func (f *fakeAPI) ListObservations(ctx context.Context, req *connect.Request[consolev1.ListObservationsRequest]) (*connect.Response[consolev1.ListObservationsResponse], error) {
	f.seen(ctx)
	if req.Msg.GetIntegrationId() == "int_gh" {
		return connect.NewResponse(&consolev1.ListObservationsResponse{Observations: []*consolev1.Observation{
			{Id: "obs_1", Title: "latest", OccurredAt: timestamppb.New(t0.Add(time.Hour))},
		}}), nil
	}
	if req.Msg.GetIntegrationId() != "" {
		return connect.NewResponse(&consolev1.ListObservationsResponse{}), nil
	}
	f.obsRequests = append(f.obsRequests, req.Msg)
	if req.Msg.GetCursor() == "bad" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("invalid cursor"))
	}
	return connect.NewResponse(&consolev1.ListObservationsResponse{Observations: []*consolev1.Observation{
		{Id: "obs_1", Provider: consolev1.Provider_PROVIDER_GITHUB, SourceType: "push", Title: "Pushed " + markup,
			Url: "javascript:alert(1)", OccurredAt: timestamppb.New(t0.Add(time.Hour))},
		{Id: "obs_2", Provider: consolev1.Provider_PROVIDER_SENTRY, SourceType: "sentry.issue.created", Title: "TypeError",
			Url: "https://sentry.example/issues/1", OccurredAt: timestamppb.New(t0)},
	}, NextCursor: "c/2+="}), nil
}

func (f *fakeAPI) ListJobs(ctx context.Context, req *connect.Request[consolev1.ListJobsRequest]) (*connect.Response[consolev1.ListJobsResponse], error) {
	f.seen(ctx)
	if req.Msg.GetIntegrationId() != "int_gh" {
		return connect.NewResponse(&consolev1.ListJobsResponse{}), nil
	}
	return connect.NewResponse(&consolev1.ListJobsResponse{Jobs: []*consolev1.Job{
		{Id: 11, Kind: consolev1.JobKind_JOB_KIND_BACKFILL, State: consolev1.JobState_JOB_STATE_DISCARDED, Attempt: 10, MaxAttempts: 10,
			LastError: "github answered 404 " + markup, IntegrationId: "int_gh", CreatedAt: timestamppb.New(t0)},
		{Id: 12, Kind: consolev1.JobKind_JOB_KIND_WEBHOOK, State: consolev1.JobState_JOB_STATE_COMPLETED, Attempt: 2, MaxAttempts: 8,
			LastError: "first attempt timed out", CreatedAt: timestamppb.New(t0)},
	}}), nil
}

func (f *fakeAPI) ListRepositories(ctx context.Context, req *connect.Request[consolev1.ListRepositoriesRequest]) (*connect.Response[consolev1.ListRepositoriesResponse], error) {
	f.seen(ctx)
	if req.Msg.GetInstallationId() != "inst_gh" {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("connection not found"))
	}
	return connect.NewResponse(&consolev1.ListRepositoriesResponse{Repositories: []*consolev1.GitHubRepository{
		{Id: 101, Name: "one", FullName: "octo/one", DefaultBranch: "main"},
		{Id: 102, Name: "two", FullName: "octo/two" + markup, DefaultBranch: "main"},
	}, NextCursor: "more"}), nil
}

func (f *fakeAPI) ListSentryProjects(ctx context.Context, _ *connect.Request[consolev1.ListSentryProjectsRequest]) (*connect.Response[consolev1.ListSentryProjectsResponse], error) {
	f.seen(ctx)
	return nil, connect.NewError(connect.CodeUnavailable, errors.New("sentry is unavailable: list projects failed (status 503)"))
}

func (f *fakeAPI) services() Services {
	return Services{Workspaces: f, Connections: f, Integrations: f, Observations: f, GitHub: f, Vercel: f, Linear: f, Sentry: f, Jobs: f}
}

type bundle struct {
	e   *echo.Echo
	api *fakeAPI
}

func setup(t *testing.T) bundle {
	t.Helper()
	api := &fakeAPI{}
	pg, err := New(Config{PublicURL: origin + "/", DevTokens: true}, auth.NewVerifier(auth.Config{DevSecret: devSecret}), api.services())
	require.NoError(t, err)
	return bundle{e: setupEcho(pg), api: api}
}

// setupEcho mounts pg on an echo configured as console serve configures it.
func setupEcho(pg *Pages) *echo.Echo {
	e := platform.NewEcho(zap.NewNop(), nil)
	e.Use(SameOrigin(origin))
	pg.Mount(e)
	return e
}

func token(t *testing.T, org string) string {
	t.Helper()
	tok, err := auth.SignDevToken(devSecret, auth.DevTokenOptions{Principal: auth.Principal{UserID: "user_1", OrgID: org, OrgRole: "admin"}})
	require.NoError(t, err)
	return tok
}

func (b bundle) get(t *testing.T, target, session string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if session != "" {
		req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: session})
	}
	rec := httptest.NewRecorder()
	b.e.ServeHTTP(rec, req)
	return rec
}

// requirePageHeaders checks the headers every page sends.
func requirePageHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	require.Equal(t, contentSecurityPolicy, rec.Header().Get("Content-Security-Policy"))
	require.Contains(t, rec.Header().Get("Content-Security-Policy"), "script-src 'self'")
	require.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
	require.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	require.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html"))
}

func TestConnectedConfirmsUnderTheSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := token(t, "org_a")
	rec := b.get(t, "/connected?provider=github&installationId="+confirmable, tok)
	require.Equal(t, http.StatusOK, rec.Code)
	requirePageHeaders(t, rec)
	body := rec.Body.String()
	require.Equal(t, []string{tok}, b.api.tokens, "ConfirmConnection was called with the session")
	require.Contains(t, body, `data-page="connected"`)
	// The origin the script posts to is the console's exact origin, from CONSOLE_PUBLIC_URL.
	require.Contains(t, body, `data-console-origin="http://console.test:4107"`)
	require.Contains(t, body, `data-provider="github"`)
	require.Contains(t, body, `data-installation-id="`+confirmable+`"`)
	require.Contains(t, body, `data-error=""`)
	require.Contains(t, body, "<h1>Connected</h1>")
	// Which account was connected, as the confirmed connection says (escaped: it comes from the provider).
	require.Contains(t, body, `data-account-login="octo`+html.EscapeString(markup)+`"`)
	require.Contains(t, body, `GitHub account <strong>octo`+html.EscapeString(markup)+`</strong> is now connected.`)
	require.NotContains(t, body, markup)
	require.NotContains(t, body, "<script>", "no inline script: the CSP forbids it")
}

// /connected confirms only under a session: without one, the user signs in and comes back to the same
// URL, and nothing is confirmed meanwhile.
func TestConnectedNeedsASession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, session := range []string{"", "garbage"} {
		rec := b.get(t, "/connected?provider=github&installationId="+confirmable, session)
		require.Equal(t, http.StatusFound, rec.Code)
		loc, err := url.Parse(rec.Header().Get("Location"))
		require.NoError(t, err)
		require.Equal(t, "/sign-in", loc.Path)
		require.Equal(t, "/connected?provider=github&installationId="+confirmable, loc.Query().Get("next"))
		// The sign-in page hands the same path and query back to its script.
		rec = b.get(t, loc.String(), "")
		require.Contains(t, rec.Body.String(), `data-next="/connected?installationId=`+confirmable+`&amp;provider=github"`)
	}
	require.Empty(t, b.api.tokens, "nothing was confirmed without a session")
}

// A refused confirmation (somebody else's connection, or too late) and a failing API are reported to the
// opener with their codes and explained.
func TestConnectedRefusedOrFailed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.get(t, "/connected?provider=linear&installationId=someone-elses", token(t, "org_a"))
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	require.Contains(t, body, `data-error="confirmation_refused"`)
	require.Contains(t, body, `data-installation-id=""`)
	require.Contains(t, body, "was not started by you in this organisation")
	require.Contains(t, body, "Connection failed")

	rec = b.get(t, "/connected?provider=linear&installationId=inst_down", token(t, "org_a"))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.Contains(t, rec.Body.String(), `data-error="server_error"`)
}

func TestConnectedError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.get(t, "/connected?provider=linear&error=installation_claimed", "")
	require.Equal(t, http.StatusOK, rec.Code)
	requirePageHeaders(t, rec)
	body := rec.Body.String()
	require.Contains(t, body, `data-error="installation_claimed"`)
	require.Contains(t, body, "already connected to another organisation")
	require.Contains(t, body, "Connection failed")

	rec = b.get(t, "/connected?provider=sentry&error=brand_new_code", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "The connection failed (brand_new_code).")

	// The codes of issue 14 are explained.
	for code, text := range map[string]string{
		"installation_not_admin": "Only an owner of the GitHub organization",
		"invalid_state":          "This browser did not start this connection",
		"confirmation_refused":   "was not started by you in this organisation",
	} {
		rec = b.get(t, "/connected?provider=github&error="+code, "")
		require.Equal(t, http.StatusOK, rec.Code, code)
		require.Contains(t, rec.Body.String(), `data-error="`+code+`"`)
		require.Contains(t, rec.Body.String(), text, code)
	}
	require.Empty(t, b.api.tokens, "reporting an error confirms nothing")
}

// TestConnectedRejectsBadQuery: /connected is linkable by anyone, so nothing from its query may reach the
// page unless it has the shape the gateway sends; everything else becomes invalid_callback.
func TestConnectedRejectsBadQuery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, q := range []string{
		"",
		"provider=github",
		"installationId=abc",
		"provider=gitlab&installationId=abc",
		"provider=github&installationId=" + urlEscape(markup),
		"provider=github&installationId=" + strings.Repeat("a", 65),
		"provider=" + urlEscape(markup) + "&installationId=abc",
		"provider=github&error=" + urlEscape(markup),
		"provider=github&error=Bad-Code",
		"provider=github&installationId=abc%22%20onload%3D%22x",
	} {
		rec := b.get(t, "/connected?"+q, "")
		require.Equal(t, http.StatusBadRequest, rec.Code, q)
		requirePageHeaders(t, rec)
		body := rec.Body.String()
		require.Contains(t, body, `data-error="invalid_callback"`, q)
		require.Contains(t, body, `data-installation-id=""`, q)
		require.NotContains(t, body, "alert", q)
		require.NotContains(t, body, "onload", q)
		require.NotContains(t, body, "gitlab", q)
	}
}

func urlEscape(s string) string {
	return strings.NewReplacer("<", "%3C", ">", "%3E", `"`, "%22", " ", "%20", "(", "%28", ")", "%29").Replace(s)
}

func TestPagesRequireASession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other, err := auth.SignDevToken("another-secret", auth.DevTokenOptions{Principal: auth.Principal{UserID: "u", OrgID: "org_a"}})
	require.NoError(t, err)
	for _, session := range []string{"", "garbage", other} {
		for _, path := range []string{"/workspaces", "/workspaces/ws_1/sources"} {
			rec := b.get(t, path, session)
			require.Equal(t, http.StatusFound, rec.Code, path)
			require.Equal(t, "/sign-in?next="+strings.ReplaceAll(path, "/", "%2F"), rec.Header().Get("Location"))
		}
	}
	require.Empty(t, b.api.tokens, "no service was called without a valid session")
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.get(t, "/sign-in?next=%2Fworkspaces%2Fws_1%2Fsources", "")
	require.Equal(t, http.StatusOK, rec.Code)
	requirePageHeaders(t, rec)
	require.Contains(t, rec.Body.String(), `data-next="/workspaces/ws_1/sources"`)
	require.Contains(t, rec.Body.String(), "console dev-token")

	for _, next := range []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "evil"} {
		rec := b.get(t, "/sign-in?next="+urlEscape(next), "")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Body.String(), `data-next="/workspaces"`, next)
	}
}

func TestRootRedirects(t *testing.T) {
	t.Parallel()
	rec := setup(t).get(t, "/", "")
	require.Equal(t, http.StatusFound, rec.Code)
	require.Equal(t, "/workspaces", rec.Header().Get("Location"))
}

func TestWorkspacesPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := token(t, "org_a")
	rec := b.get(t, "/workspaces", tok)
	require.Equal(t, http.StatusOK, rec.Code)
	requirePageHeaders(t, rec)
	body := rec.Body.String()
	require.Contains(t, body, `href="/workspaces/ws_1/sources"`)
	require.Contains(t, body, "Docs &lt;script&gt;")
	require.NotContains(t, body, markup)
	require.Contains(t, body, `id="create-workspace"`)
	require.Contains(t, body, "user_1 · org_a (admin)")
	require.Equal(t, []string{tok}, b.api.tokens, "the session token is forwarded to the API")
}

func TestSourcesPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.get(t, "/workspaces/ws_1/sources", token(t, "org_a"))
	require.Equal(t, http.StatusOK, rec.Code)
	requirePageHeaders(t, rec)
	body := rec.Body.String()
	require.NotContains(t, body, markup)
	require.NotContains(t, body, "javascript:")

	// Every provider has a Connect button carrying the enum the API expects.
	for _, p := range []string{"GITHUB", "VERCEL", "LINEAR", "SENTRY"} {
		require.Contains(t, body, `data-action="connect" data-provider="`+strings.ToLower(p)+`" data-provider-enum="PROVIDER_`+p+`"`)
	}
	// Connections with their status and Disconnect.
	require.Contains(t, body, `<div class="connection" data-installation-id="inst_gh" data-external-id="77" data-status="active">`)
	require.Contains(t, body, "octo&lt;script&gt;")
	require.Contains(t, body, `data-action="disconnect" data-installation-id="inst_gh"`)
	// The link form: the linked repository is checked and disabled, the other one carries its JSON.
	require.Contains(t, body, `data-method="BulkLinkGitHubRepositories" data-field="repositories" data-installation-id="inst_gh"`)
	require.Regexp(t, `value="101" data-resource="[^"]*" checked disabled> octo/one`, body)
	// The JSON is protojson's (whose spacing varies on purpose), so compare it decoded.
	m := regexp.MustCompile(`value="102" data-resource="([^"]*)"`).FindStringSubmatch(body)
	require.Len(t, m, 2)
	var repo map[string]any
	require.NoError(t, json.Unmarshal([]byte(html.UnescapeString(m[1])), &repo))
	require.Equal(t, map[string]any{"id": "102", "name": "two", "fullName": "octo/two" + markup, "defaultBranch": "main"}, repo)
	require.Contains(t, body, "Only the first 2 are listed.")
	// A provider failing to list its resources is shown in place, not as a broken page.
	require.Contains(t, body, "Could not list them: sentry is unavailable: list projects failed (status 503)")
	// Integrations: state, backfill progress, last event.
	require.Contains(t, body, `data-integration-id="int_gh" data-installation-id="inst_gh" data-resource-id="101" data-resource-name="octo/one" data-active="true" data-backfill-status="running"`)
	require.Contains(t, body, `<span class="backfill-progress">3 / 10</span>`)
	require.Contains(t, body, `<time datetime="2026-03-04T06:06:07Z">2026-03-04 06:06:07 UTC</time>`)
	require.Contains(t, body, `data-action="backfill" data-integration-id="int_gh" disabled`)
	require.Contains(t, body, `data-resource-name="site &lt;script&gt;`)
	require.Contains(t, body, `data-active="false" data-backfill-status="idle"`)
	require.Contains(t, body, `<td class="state">inactive</td>`)
	// An integration whose row cannot be read is shown with the reason, and no actions.
	require.Contains(t, body, `data-integration-id="int_bad" data-installation-id="inst_gh" data-resource-id="103" data-resource-name="octo/three" data-active="false"`)
	require.Contains(t, body, `unreadable: <span class="unreadable-reason">resource_meta: cannot read repoId &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</span>`)
	require.NotContains(t, body, `data-action="backfill" data-integration-id="int_bad"`)
	// Observations, newest first, with only safe links.
	require.Contains(t, body, "Pushed &lt;script&gt;")
	require.Contains(t, body, `href="#ZgotmplZ"`)
	require.Contains(t, body, `href="https://sentry.example/issues/1"`)
	// A connection in error offers Reconnect (a new connect flow) and no link form.
	require.Contains(t, body, `data-installation-id="inst_li" data-external-id="org-1" data-status="error"`)
	require.Contains(t, body, `reauth_required`)
	require.Contains(t, body, `data-action="connect" data-reconnect="inst_li" data-provider="linear" data-provider-enum="PROVIDER_LINEAR">Reconnect</button>`)
	require.NotContains(t, body, `data-method="BulkLinkLinearTeams"`)
	// Providers without a connection say so.
	require.Equal(t, 1, strings.Count(body, "Not connected."))
}

func TestSourcesPageUnknownWorkspace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.get(t, "/workspaces/ws_other/sources", token(t, "org_a"))
	require.Equal(t, http.StatusNotFound, rec.Code)
	requirePageHeaders(t, rec)
	require.Contains(t, rec.Body.String(), "Not found.")
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.get(t, "/static/pages.js", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Header().Get("Content-Type"), "javascript")
	require.Contains(t, rec.Body.String(), "event.origin !== consoleOrigin")
	require.Contains(t, rec.Body.String(), "window.opener.postMessage(result, consoleOrigin)")
	rec = b.get(t, "/static/pages.css", "")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, http.StatusNotFound, b.get(t, "/static/nope.js", "").Code)
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	v := auth.NewVerifier(auth.Config{DevSecret: devSecret})
	api := &fakeAPI{}
	for _, u := range []string{"", "localhost:4107", "ftp://x", "http://"} {
		_, err := New(Config{PublicURL: u}, v, api.services())
		require.Error(t, err, u)
	}
	_, err := New(Config{PublicURL: origin}, nil, api.services())
	require.Error(t, err)
	_, err = New(Config{PublicURL: origin}, v, Services{})
	require.Error(t, err)
}

func TestOrigin(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://localhost:4107":             "http://localhost:4107",
		"https://Console.Example.com/app/":  "https://console.example.com",
		"http://127.0.0.1:9/x?y=1#z":        "http://127.0.0.1:9",
		"https://console.example.com:443/x": "https://console.example.com",
		"http://localhost:80":               "http://localhost",
		"http://[::1]:4107/":                "http://[::1]:4107",
		"http://[::1]/":                     "http://[::1]",
	} {
		got, err := Origin(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}
