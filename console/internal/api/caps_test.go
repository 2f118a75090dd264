package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/lightfastai/connections/console/internal/backfill"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// Every list a caller sends is capped before any work that grows with it, and de-duplicated in one
// pass; a body over the read limit or nested past protojson's depth limit is refused before a handler
// runs. (SPEC §6.2; issue 13.)

// refuseBudget is how long refusing an over-cap list may take: the Connect decode of the 50,000 items
// plus one length comparison. The race detector slows the decode about tenfold. Before the cap came
// first, a 50,000-id GitHub link took 3.3 s (31.9 s with -race) of quadratic de-duplication.
func refuseBudget() time.Duration {
	if raceEnabled {
		return 5 * time.Second
	}
	return time.Second
}

// postProto sends msg, already encoded, to procedure in Connect's binary protocol, so the time measured
// is the server's alone (decode, handler, answer), not the client's encoding.
func postProto(t *testing.T, base, procedure, tok string, msg proto.Message) (int, map[string]any, time.Duration) {
	t.Helper()
	raw, err := proto.Marshal(msg)
	require.NoError(t, err)
	require.Less(t, len(raw), 1<<20, "the request must fit under the read limit to reach the handler")
	req, err := http.NewRequest(http.MethodPost, base+procedure, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Authorization", "Bearer "+tok)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	require.NoError(t, err)
	out := map[string]any{}
	require.NoError(t, json.Unmarshal(body, &out), "%s", body)
	return resp.StatusCode, out, took
}

// TestSecurityBulkLinkOverCapIsRefusedFast sends each bulk-link procedure 50,000 ids (all distinct, all
// unknown to the provider): each is InvalidArgument naming the cap, answered well under a second, and
// writes nothing.
func TestSecurityBulkLinkOverCapIsRefusedFast(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ghInst, _, _ := e.github("org_a", 1)
	vcInst, _ := e.vercel("org_a", 1)
	lnInst, _ := e.linear("org_a", 1)
	seInst, _ := e.sentry("org_a", 1)
	ws := e.workspace("org_a", "w")
	tok := token(t, "user_a", "org_a", "admin")
	const n = 50_000
	gh := &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, InstallationId: ghInst.ID}
	vc := &consolev1.BulkLinkVercelProjectsRequest{WorkspaceId: ws.ID, InstallationId: vcInst.ID}
	ln := &consolev1.BulkLinkLinearTeamsRequest{WorkspaceId: ws.ID, InstallationId: lnInst.ID}
	se := &consolev1.BulkLinkSentryProjectsRequest{WorkspaceId: ws.ID, InstallationId: seInst.ID}
	for i := range n {
		id := strconv.Itoa(i + 1)
		gh.Repositories = append(gh.Repositories, &consolev1.GitHubRepository{Id: int64(i + 1)})
		vc.Projects = append(vc.Projects, &consolev1.VercelProject{Id: "p" + id})
		ln.Teams = append(ln.Teams, &consolev1.LinearTeam{Id: "t" + id})
		se.Projects = append(se.Projects, &consolev1.SentryProject{Id: id})
	}
	before := e.snapshot()
	for _, c := range []struct {
		procedure, noun string
		req             proto.Message
	}{
		{"BulkLinkGitHubRepositories", "repositories", gh},
		{"BulkLinkVercelProjects", "projects", vc},
		{"BulkLinkLinearTeams", "teams", ln},
		{"BulkLinkSentryProjects", "projects", se},
	} {
		status, body, took := postProto(t, e.url, "/lightfast.console.v1.IntegrationService/"+c.procedure, tok, c.req)
		t.Logf("%s with %d ids refused in %s", c.procedure, n, took)
		require.Equal(t, http.StatusBadRequest, status, c.procedure)
		require.Equal(t, "invalid_argument", body["code"], c.procedure)
		require.Equal(t, fmt.Sprintf("at most 100 %s per call (got %d)", c.noun, n), body["message"], c.procedure)
		require.Less(t, took, refuseBudget(), c.procedure)
	}
	require.Equal(t, before, e.snapshot(), "nothing written")
}

// TestBulkLinkRepeatedIDsLinkOnce: a list within the cap that repeats ids links each resource once, in
// the order it first appears; the cap counts what was sent, repeats included.
func TestBulkLinkRepeatedIDsLinkOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	inst, _, repos := e.github("org_a", 2)
	ws := e.workspace("org_a", "w")
	r0, r1 := repos[0].ID, repos[1].ID
	resp, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(r1, r0, r1, r1, r0),
	}))
	require.NoError(t, err)
	require.EqualValues(t, 2, resp.Msg.GetCreatedCount())
	var got []string
	for _, in := range resp.Msg.GetIntegrations() {
		got = append(got, in.GetProviderResourceId())
	}
	require.Equal(t, []string{strconv.FormatInt(r1, 10), strconv.FormatInt(r0, 10)}, got)
	var integrations, resources int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM lightfast_workspace_integrations`).Scan(&integrations))
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM lightfast_gw_resources`).Scan(&resources))
	require.Equal(t, 2, integrations)
	require.Equal(t, 2, resources)

	// 101 copies of one repository are 101 items: over the cap.
	many := make([]int64, 101)
	for i := range many {
		many[i] = r0
	}
	before := e.snapshot()
	_, err = c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(many...),
	}))
	cerr := requireConnectError(t, err, connect.CodeInvalidArgument)
	require.Equal(t, "at most 100 repositories per call (got 101)", cerr.Message())
	require.Equal(t, before, e.snapshot())
}

// TestSecurityListFieldsAreCapped: UpdateEvents' events and StartBackfill's (and a link's) entity types
// are capped before anything is read or written; repeated events are stored once.
func TestSecurityListFieldsAreCapped(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	bf := e.backfillClient(token(t, "user_org_a", "org_a", "admin"))
	inst, _, repos := e.github("org_a", 1)
	ws := e.workspace("org_a", "w")
	linked, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID),
	}))
	require.NoError(t, err)
	integ := linked.Msg.GetIntegrations()[0].GetId()

	flood := make([]string, 20_000)
	for i := range flood {
		flood[i] = "push"
	}
	before := e.snapshot()
	_, err = c.integ.UpdateEvents(ctx, connect.NewRequest(&consolev1.UpdateEventsRequest{IntegrationId: integ, Events: flood}))
	cerr := requireConnectError(t, err, connect.CodeInvalidArgument)
	require.Equal(t, "at most 50 events (got 20000)", cerr.Message())
	entities := flood[:backfill.MaxEntityTypes+1]
	_, err = bf.StartBackfill(ctx, connect.NewRequest(&consolev1.StartBackfillRequest{IntegrationId: integ, EntityTypes: entities}))
	cerr = requireConnectError(t, err, connect.CodeInvalidArgument)
	require.Equal(t, "at most 10 entity_types (got 11)", cerr.Message())
	_, err = c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
		WorkspaceId: ws.ID, InstallationId: inst.ID, Repositories: ghRepos(repos[0].ID),
		StartBackfill: true, BackfillOptions: &consolev1.BackfillOptions{EntityTypes: flood},
	}))
	cerr = requireConnectError(t, err, connect.CodeInvalidArgument)
	require.Contains(t, cerr.Message(), "at most 10 entity types (got 20000)")
	require.Equal(t, before, e.snapshot(), "nothing written")

	resp, err := c.integ.UpdateEvents(ctx, connect.NewRequest(&consolev1.UpdateEventsRequest{IntegrationId: integ, Events: []string{"push", "issues", "push"}}))
	require.NoError(t, err)
	require.Equal(t, []string{"push", "issues"}, resp.Msg.GetIntegration().GetSyncConfig().GetEvents())
	row, err := e.q.GetIntegration(ctx, integ)
	require.NoError(t, err)
	require.Equal(t, []string{"push", "issues"}, row.SyncConfig.Events)
	require.Equal(t, types.GitHub, row.Provider)
}

// TestSecurityHostileBodiesAreRefused: a body past the 1 MiB read limit, and JSON nested deeper than
// protojson's recursion limit (10,000) in an unknown field, an array or an object, are refused with a
// Connect error before any handler runs; the server keeps answering.
func TestSecurityHostileBodiesAreRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	admin := token(t, "user_a", "org_a", "admin")
	const create = "/lightfast.console.v1.WorkspaceService/CreateWorkspace"
	deep := 400_000 // well past the limit, still under 1 MiB
	for name, body := range map[string]string{
		"unknown field, arrays":  `{"name":"x","junk":` + strings.Repeat("[", deep) + strings.Repeat("]", deep) + `}`,
		"unknown field, objects": `{"name":"x","junk":` + strings.Repeat(`{"a":`, deep/5) + `1` + strings.Repeat("}", deep/5) + `}`,
		"unclosed":               `{"name":"x","junk":` + strings.Repeat("[", deep),
		"known field":            `{"name":` + strings.Repeat("[", deep) + `}`,
	} {
		status, out := postJSON(t, e.url, create, admin, body)
		require.Equal(t, http.StatusBadRequest, status, name)
		require.Equal(t, "invalid_argument", out["code"], name)
	}
	status, out := postJSON(t, e.url, create, admin, `{"name":"x","junk":`+strings.Repeat("[", 9_000)+strings.Repeat("]", 9_000)+`}`)
	require.Equal(t, http.StatusOK, status, "nesting within the limit in an unknown field is skipped: %v", out)

	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	status, out = postJSON(t, e.url, create, admin, big)
	require.Equal(t, http.StatusTooManyRequests, status, "Connect answers resource_exhausted with 429")
	require.Equal(t, "resource_exhausted", out["code"])
	require.Contains(t, out["message"], "larger than configured max")

	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM lightfast_org_workspaces`).Scan(&n))
	require.Equal(t, 1, n, "only the valid request wrote")
}
