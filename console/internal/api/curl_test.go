package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/types"
)

// postJSON calls a procedure the way curl does in Connect's JSON mode:
//
//	curl -X POST $URL/lightfast.console.v1.WorkspaceService/ListWorkspaces \
//	  -H 'Authorization: Bearer …' -H 'Content-Type: application/json' -d '{}'
func postJSON(t *testing.T, base, procedure, auth, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+procedure, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"), "%s: content type %q: %s", procedure, resp.Header.Get("Content-Type"), raw)
	out := map[string]any{}
	require.NoError(t, json.Unmarshal(raw, &out), "%s: %s", procedure, raw)
	return resp.StatusCode, out
}

// allProcedures lists every procedure of the Console API, from the generated descriptors.
func allProcedures() []string {
	var out []string
	// Every file of the package, so a procedure in a new file cannot escape.
	protoregistry.GlobalFiles.RangeFilesByPackage("lightfast.console.v1", func(f protoreflect.FileDescriptor) bool {
		for i := 0; i < f.Services().Len(); i++ {
			svc := f.Services().Get(i)
			for j := 0; j < svc.Methods().Len(); j++ {
				out = append(out, fmt.Sprintf("/%s/%s", svc.FullName(), svc.Methods().Get(j).Name()))
			}
		}
		return true
	})
	sort.Strings(out)
	return out
}

func TestEveryProcedureAnswersConnectJSON(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ghInst, gh, repos := e.github("org_a", 2)
	vcInst, _ := e.vercel("org_a", 1)
	lnInst, _ := e.linear("org_a", 1)
	seInst, _ := e.sentry("org_a", 1)
	ws := e.workspace("org_a", "w")
	admin := token(t, "user_a", "org_a", "admin")
	pendingInst := e.pendingInstallation("org_a", "user_a", types.Linear, "lin_pending", time.Now().Add(time.Minute))

	// Look the provider resources up through the API itself, as a UI would.
	_, vp := postJSON(t, e.url, "/lightfast.console.v1.VercelService/ListProjects", admin, fmt.Sprintf(`{"installationId":%q}`, vcInst.ID))
	project, _ := json.Marshal(vp["projects"].([]any)[0])
	_, lt := postJSON(t, e.url, "/lightfast.console.v1.LinearService/ListTeams", admin, fmt.Sprintf(`{"installationId":%q}`, lnInst.ID))
	team, _ := json.Marshal(lt["teams"].([]any)[0])
	_, sp := postJSON(t, e.url, "/lightfast.console.v1.SentryService/ListSentryProjects", admin, fmt.Sprintf(`{"installationId":%q}`, seInst.ID))
	seProject, _ := json.Marshal(sp["projects"].([]any)[0])
	status, linked := postJSON(t, e.url, "/lightfast.console.v1.IntegrationService/BulkLinkGitHubRepositories", admin,
		fmt.Sprintf(`{"workspaceId":%q,"installationId":%q,"repositories":[{"id":"%d"}]}`, ws.ID, ghInst.ID, repos[0].ID))
	require.Equal(t, http.StatusOK, status, linked)
	integ := linked["integrations"].([]any)[0].(map[string]any)["id"].(string)
	repo := strconv.FormatInt(repos[0].ID, 10)
	failed := e.insertJob(jobs.SyncConfig{IntegrationID: integ})
	e.discard(failed, "sync config: github is unavailable")
	login := "login-" + strconv.FormatInt(gh.ID, 10)

	// One valid request per procedure; the unlink and disconnect run last (they tear down what others use).
	bodies := map[string]string{
		"WorkspaceService/CreateWorkspace": fmt.Sprintf(`{"name":"From curl","resources":{"installationId":%q,"resourceIds":["%d"]}}`,
			ghInst.ID, repos[1].ID),
		"WorkspaceService/ResolveFromGitHubOrgSlug":     fmt.Sprintf(`{"githubOrgSlug":%q}`, login),
		"IntegrationService/UpdateSyncConfig":           fmt.Sprintf(`{"integrationId":%q,"branches":{"values":["main","release/*"]},"paths":{"values":["src/**"]},"autoSync":true}`, integ),
		"JobService/ListJobs":                           fmt.Sprintf(`{"workspaceId":%q,"state":"JOB_STATE_DISCARDED","pageSize":10}`, ws.ID),
		"JobService/RestartJob":                         fmt.Sprintf(`{"jobId":"%d"}`, failed),
		"WorkspaceService/ListWorkspaces":               `{}`,
		"WorkspaceService/GetWorkspace":                 fmt.Sprintf(`{"workspaceId":%q}`, ws.ID),
		"ConnectionService/GetAuthorizeURL":             `{"provider":"PROVIDER_GITHUB","returnTo":"/sources"}`,
		"ConnectionService/ListConnections":             `{}`,
		"ConnectionService/ConfirmConnection":           fmt.Sprintf(`{"installationId":%q}`, pendingInst.ID),
		"ConnectionService/GetConnection":               `{"provider":"PROVIDER_VERCEL"}`,
		"GitHubService/GetInstallations":                `{}`,
		"GitHubService/ValidateInstallations":           fmt.Sprintf(`{"installationId":%q}`, ghInst.ID),
		"GitHubService/ListRepositories":                fmt.Sprintf(`{"installationId":%q,"pageSize":1}`, ghInst.ID),
		"GitHubService/DetectConfig":                    fmt.Sprintf(`{"integrationId":%q}`, integ),
		"VercelService/GetVercelConnection":             `{}`,
		"VercelService/ListProjects":                    fmt.Sprintf(`{"installationId":%q}`, vcInst.ID),
		"LinearService/ListTeams":                       fmt.Sprintf(`{"installationId":%q}`, lnInst.ID),
		"SentryService/ListSentryProjects":              fmt.Sprintf(`{"installationId":%q}`, seInst.ID),
		"IntegrationService/ListSources":                fmt.Sprintf(`{"workspaceId":%q}`, ws.ID),
		"IntegrationService/BulkLinkGitHubRepositories": fmt.Sprintf(`{"workspaceId":%q,"installationId":%q,"repositories":[{"id":"%d"}]}`, ws.ID, ghInst.ID, repos[1].ID),
		"IntegrationService/BulkLinkVercelProjects":     fmt.Sprintf(`{"workspaceId":%q,"installationId":%q,"projects":[%s]}`, ws.ID, vcInst.ID, project),
		"IntegrationService/LinkVercelProject":          fmt.Sprintf(`{"workspaceId":%q,"installationId":%q,"project":%s}`, ws.ID, vcInst.ID, project),
		"IntegrationService/BulkLinkLinearTeams":        fmt.Sprintf(`{"workspaceId":%q,"installationId":%q,"teams":[%s]}`, ws.ID, lnInst.ID, team),
		"IntegrationService/BulkLinkSentryProjects":     fmt.Sprintf(`{"workspaceId":%q,"installationId":%q,"projects":[%s]}`, ws.ID, seInst.ID, seProject),
		"IntegrationService/UpdateEvents":               fmt.Sprintf(`{"integrationId":%q,"events":["push","pull_request"]}`, integ),
		"SourceService/FindByGithubRepoId":              fmt.Sprintf(`{"githubRepoId":%s}`, repo),
		"SourceService/GetSourceIdByGithubRepoId":       fmt.Sprintf(`{"workspaceId":%q,"githubRepoId":"%s"}`, ws.ID, repo),
		"SourceService/UpdateGithubSyncStatus":          fmt.Sprintf(`{"sourceId":%q,"status":"SYNC_STATUS_SUCCESS"}`, integ),
		"SourceService/UpdateGithubConfigStatus":        fmt.Sprintf(`{"sourceId":%q,"configStatus":"CONFIG_STATUS_CONFIGURED","configPath":"lightfast.yml"}`, integ),
		"SourceService/MarkGithubInstallationInactive":  fmt.Sprintf(`{"githubInstallationId":"%d"}`, gh.ID+1000000),
		"SourceService/MarkGithubDeleted":               `{"githubRepoId":"1"}`,
		"SourceService/UpdateGithubMetadata":            fmt.Sprintf(`{"githubRepoId":%s,"defaultBranch":"trunk"}`, repo),
		"IntegrationService/UnlinkIntegration":          fmt.Sprintf(`{"integrationId":%q}`, integ),
		"ConnectionService/Disconnect":                  fmt.Sprintf(`{"installationId":%q}`, seInst.ID),
		"BackfillService/StartBackfill":                 fmt.Sprintf(`{"integrationId":%q}`, integ),
		"BackfillService/GetBackfillStatus":             fmt.Sprintf(`{"integrationId":%q}`, integ),
		"BackfillService/CancelBackfill":                fmt.Sprintf(`{"integrationId":%q}`, integ),
		"ObservationService/ListObservations":           fmt.Sprintf(`{"workspaceId":%q}`, ws.ID),
	}
	last := []string{"IntegrationService/UnlinkIntegration", "ConnectionService/Disconnect"}
	var ordered []string
	for _, p := range allProcedures() {
		short := strings.TrimPrefix(p, "/lightfast.console.v1.")
		_, ok := bodies[short]
		require.True(t, ok, "no curl body for %s: every procedure must be exercised", p)
		if short != last[0] && short != last[1] {
			ordered = append(ordered, p)
		}
	}
	require.Len(t, bodies, len(allProcedures()))
	for _, l := range last {
		ordered = append(ordered, "/lightfast.console.v1."+l)
	}

	for _, p := range ordered {
		short := strings.TrimPrefix(p, "/lightfast.console.v1.")
		cred := admin
		if strings.HasPrefix(short, "SourceService/") {
			cred = m2mKey
		}
		status, body := postJSON(t, e.url, p, cred, bodies[short])
		require.Equal(t, http.StatusOK, status, "%s: %v", p, body)
	}

	// Errors are Connect JSON too, with the code clients match on.
	status, body := postJSON(t, e.url, "/lightfast.console.v1.WorkspaceService/ListWorkspaces", "", `{}`)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "unauthenticated", body["code"])
	status, body = postJSON(t, e.url, "/lightfast.console.v1.WorkspaceService/GetWorkspace", admin, `{"workspaceId":"nope"}`)
	require.Equal(t, http.StatusNotFound, status)
	require.Equal(t, "not_found", body["code"])
	status, body = postJSON(t, e.url, "/lightfast.console.v1.WorkspaceService/CreateWorkspace", admin, `{"name":`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_argument", body["code"])
}

func TestOversizedRequestIsRefused(t *testing.T) {
	t.Parallel()
	e := setup(t)
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	req, err := http.NewRequest(http.MethodPost, e.url+"/lightfast.console.v1.WorkspaceService/CreateWorkspace", bytes.NewReader([]byte(big)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token(t, "u", "org_a", "admin"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.NotEqual(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, e.snapshot()["lightfast_org_workspaces"])
}
