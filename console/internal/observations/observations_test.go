package observations_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/console/internal/observations"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

const devSecret = "observations-test-secret"

type env struct {
	q   *dbq.Queries
	url string
}

func setup(t *testing.T) *env {
	t.Helper()
	pool := dbtest.NewPool(t)
	mux := http.NewServeMux()
	mux.Handle(consolev1connect.NewObservationServiceHandler(observations.New(pool),
		connect.WithInterceptors(auth.UserInterceptor(auth.NewVerifier(auth.Config{DevSecret: devSecret})))))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{q: dbq.New(pool), url: srv.URL}
}

// client calls as user of org (no token when org is "-").
func (e *env) client(t *testing.T, org string) consolev1connect.ObservationServiceClient {
	t.Helper()
	var opts []connect.ClientOption
	if org != "-" {
		tok, err := auth.SignDevToken(devSecret, auth.DevTokenOptions{Principal: auth.Principal{UserID: "user_1", OrgID: org, OrgRole: "member"}})
		require.NoError(t, err)
		opts = append(opts, connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+tok)
				return next(ctx, req)
			}
		})))
	}
	return consolev1connect.NewObservationServiceClient(http.DefaultClient, e.url, opts...)
}

type fixture struct {
	org, workspace  string
	github, vercel  string   // integration ids
	ids             []string // observation ids, newest first
	otherWorkspace  string   // same org, with one observation
	foreignWorkpace string   // another org's workspace
}

var base = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

// seed writes 7 observations in one workspace: 5 GitHub (two pairs sharing an occurred_at, so paging
// must break ties by id) and 2 Vercel.
func (e *env) seed(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	f := fixture{org: "org_" + ids.New()}
	ws := func(org, slug string) string {
		w, err := e.q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: org, Name: slug, Slug: slug})
		require.NoError(t, err)
		return w.ID
	}
	f.workspace, f.otherWorkspace = ws(f.org, "main"), ws(f.org, "other")
	f.foreignWorkpace = ws("org_"+ids.New(), "theirs")
	integ := func(p types.Provider, resource string) string {
		inst, err := e.q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{ID: ids.New(), Provider: p, ExternalID: ids.New(), ConnectedBy: "user_1", OrgID: f.org})
		require.NoError(t, err)
		in, err := e.q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
			ID: ids.New(), WorkspaceID: f.workspace, InstallationID: inst.ID, Provider: p, ProviderResourceID: resource,
			ResourceName: resource, SyncConfig: types.DefaultSyncConfig(p),
		})
		require.NoError(t, err)
		return in.ID
	}
	f.github, f.vercel = integ(types.GitHub, "1"), integ(types.Vercel, "prj_1")
	type row struct {
		integration string
		provider    types.Provider
		sourceType  string
		minutes     int
	}
	rows := []row{
		{f.github, types.GitHub, "push", 0},
		{f.github, types.GitHub, "pull_request.opened", 1},
		{f.github, types.GitHub, "pull_request.opened", 1},
		{f.vercel, types.Vercel, "deployment.succeeded", 2},
		{f.github, types.GitHub, "push", 3},
		{f.github, types.GitHub, "push", 3},
		{f.vercel, types.Vercel, "deployment.error", 4},
	}
	insert := func(workspace string, i int, r row) dbq.InsertObservationParams {
		body, url := "body", "https://example.com/"+fmt.Sprint(i)
		p := dbq.InsertObservationParams{
			ID: ids.New(), WorkspaceID: workspace, Provider: r.provider, SourceType: r.sourceType,
			SourceID: fmt.Sprintf("%s:%d", r.sourceType, i), Title: fmt.Sprintf("obs %d", i), Body: &body, Url: &url,
			Actor:      &types.Actor{ID: "21031067", Login: "Codertocat", AvatarURL: "https://avatars/u/1"},
			OccurredAt: base.Add(time.Duration(r.minutes) * time.Minute), Metadata: types.Object{},
		}
		if r.integration != "" {
			p.IntegrationID = &r.integration
		}
		_, err := e.q.InsertObservation(ctx, p)
		require.NoError(t, err)
		return p
	}
	var written []dbq.InsertObservationParams
	for i, r := range rows {
		written = append(written, insert(f.workspace, i, r))
	}
	insert(f.otherWorkspace, 100, row{"", types.GitHub, "push", 10})
	insert(f.foreignWorkpace, 101, row{"", types.GitHub, "push", 10})
	// Newest first; equal times by id descending.
	sortNewestFirst(written, &f.ids)
	return f
}

func sortNewestFirst(written []dbq.InsertObservationParams, out *[]string) {
	ps := slices.Clone(written)
	slices.SortFunc(ps, func(a, b dbq.InsertObservationParams) int {
		if newer(a, b) {
			return -1
		}
		return 1
	})
	*out = nil
	for _, p := range ps {
		*out = append(*out, p.ID)
	}
}

func newer(a, b dbq.InsertObservationParams) bool {
	if !a.OccurredAt.Equal(b.OccurredAt) {
		return a.OccurredAt.After(b.OccurredAt)
	}
	return a.ID > b.ID
}

func list(t *testing.T, c consolev1connect.ObservationServiceClient, req *consolev1.ListObservationsRequest) (*consolev1.ListObservationsResponse, error) {
	t.Helper()
	resp, err := c.ListObservations(context.Background(), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return resp.Msg, nil
}

// all pages through req with page size n and returns the ids in order.
func all(t *testing.T, c consolev1connect.ObservationServiceClient, req *consolev1.ListObservationsRequest, n int32) []string {
	t.Helper()
	req.PageSize = n
	var got []string
	for pages := 0; ; pages++ {
		require.Less(t, pages, 20, "paging must end")
		resp, err := list(t, c, req)
		require.NoError(t, err)
		require.LessOrEqual(t, len(resp.Observations), int(n))
		for _, o := range resp.Observations {
			got = append(got, o.Id)
		}
		if resp.NextCursor == "" {
			return got
		}
		req.Cursor = resp.NextCursor
	}
}

func TestListNewestFirstWithKeysetPaging(t *testing.T) {
	t.Parallel()
	e := setup(t)
	f := e.seed(t)
	c := e.client(t, f.org)

	for _, n := range []int32{1, 2, 3, 7, 50} {
		require.Equal(t, f.ids, all(t, c, &consolev1.ListObservationsRequest{WorkspaceId: f.workspace}, n), "page size %d", n)
	}

	resp, err := list(t, c, &consolev1.ListObservationsRequest{WorkspaceId: f.workspace})
	require.NoError(t, err)
	require.Len(t, resp.Observations, 7)
	require.Empty(t, resp.NextCursor, "one page holds them all")
	o := resp.Observations[0]
	require.Equal(t, consolev1.Provider_PROVIDER_VERCEL, o.Provider)
	require.Equal(t, "deployment.error", o.SourceType)
	require.Equal(t, f.vercel, o.IntegrationId)
	require.Equal(t, f.workspace, o.WorkspaceId)
	require.Equal(t, "body", o.Body)
	require.Equal(t, "Codertocat", o.Actor.GetName())
	require.Equal(t, "21031067", o.Actor.GetId())
	require.True(t, o.OccurredAt.AsTime().Equal(base.Add(4*time.Minute)))
	require.NotNil(t, o.CreatedAt)

	// A page that ends exactly at the last row still says there is no more.
	resp, err = list(t, c, &consolev1.ListObservationsRequest{WorkspaceId: f.workspace, PageSize: 7})
	require.NoError(t, err)
	require.Empty(t, resp.NextCursor)
}

func TestFilters(t *testing.T) {
	t.Parallel()
	e := setup(t)
	f := e.seed(t)
	c := e.client(t, f.org)
	count := func(req *consolev1.ListObservationsRequest) int {
		req.WorkspaceId = f.workspace
		return len(all(t, c, req, 2))
	}
	require.Equal(t, 5, count(&consolev1.ListObservationsRequest{Provider: consolev1.Provider_PROVIDER_GITHUB}))
	require.Equal(t, 2, count(&consolev1.ListObservationsRequest{Provider: consolev1.Provider_PROVIDER_VERCEL}))
	require.Equal(t, 0, count(&consolev1.ListObservationsRequest{Provider: consolev1.Provider_PROVIDER_SENTRY}))
	require.Equal(t, 3, count(&consolev1.ListObservationsRequest{SourceType: "push"}))
	require.Equal(t, 3, count(&consolev1.ListObservationsRequest{SourceType: "push", Provider: consolev1.Provider_PROVIDER_GITHUB}))
	require.Equal(t, 2, count(&consolev1.ListObservationsRequest{IntegrationId: f.vercel}))
	require.Equal(t, 0, count(&consolev1.ListObservationsRequest{IntegrationId: f.vercel, SourceType: "push"}))
	require.Equal(t, 0, count(&consolev1.ListObservationsRequest{IntegrationId: "no-such-integration"}))

	// Another workspace of the same org sees only its own.
	other := all(t, c, &consolev1.ListObservationsRequest{WorkspaceId: f.otherWorkspace}, 10)
	require.Len(t, other, 1)
}

func TestOrgScopingAndAuth(t *testing.T) {
	t.Parallel()
	e := setup(t)
	f := e.seed(t)

	_, err := list(t, e.client(t, f.org), &consolev1.ListObservationsRequest{WorkspaceId: f.foreignWorkpace})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err), "another org's workspace is not visible")
	_, err = list(t, e.client(t, f.org), &consolev1.ListObservationsRequest{WorkspaceId: "no-such-workspace"})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = list(t, e.client(t, "org_someone_else"), &consolev1.ListObservationsRequest{WorkspaceId: f.workspace})
	require.Equal(t, connect.CodeNotFound, connect.CodeOf(err))
	_, err = list(t, e.client(t, ""), &consolev1.ListObservationsRequest{WorkspaceId: f.workspace})
	require.Equal(t, connect.CodePermissionDenied, connect.CodeOf(err))
	_, err = list(t, e.client(t, "-"), &consolev1.ListObservationsRequest{WorkspaceId: f.workspace})
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	e := setup(t)
	f := e.seed(t)
	c := e.client(t, f.org)
	good, err := list(t, c, &consolev1.ListObservationsRequest{WorkspaceId: f.workspace, PageSize: 1})
	require.NoError(t, err)
	require.NotEmpty(t, good.NextCursor)
	raw, err := base64.RawURLEncoding.DecodeString(good.NextCursor)
	require.NoError(t, err)

	for name, req := range map[string]*consolev1.ListObservationsRequest{
		"no workspace":         {},
		"negative page size":   {WorkspaceId: f.workspace, PageSize: -1},
		"unknown provider":     {WorkspaceId: f.workspace, Provider: consolev1.Provider(99)},
		"long source type":     {WorkspaceId: f.workspace, SourceType: strings.Repeat("x", 129)},
		"long integration":     {WorkspaceId: f.workspace, IntegrationId: strings.Repeat("x", 192)},
		"cursor not base64":    {WorkspaceId: f.workspace, Cursor: "!!!"},
		"cursor wrong version": {WorkspaceId: f.workspace, Cursor: base64.RawURLEncoding.EncodeToString([]byte("o0" + string(raw[2:])))},
		"cursor bad time":      {WorkspaceId: f.workspace, Cursor: base64.RawURLEncoding.EncodeToString([]byte("o1:soon:abc"))},
		"cursor no id":         {WorkspaceId: f.workspace, Cursor: base64.RawURLEncoding.EncodeToString([]byte("o1:123:"))},
	} {
		_, err := list(t, c, req)
		require.Equal(t, connect.CodeInvalidArgument, connect.CodeOf(err), name)
	}

	// Oversized pages are clamped, not refused.
	resp, err := list(t, c, &consolev1.ListObservationsRequest{WorkspaceId: f.workspace, PageSize: 10_000})
	require.NoError(t, err)
	require.Len(t, resp.Observations, 7)
}
