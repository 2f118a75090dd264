package providersim

import (
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCountersAndFailNext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inst := b.sim.SeedGitHubInstallation(0, "")
	tok := b.installationToken(t, inst.ID)
	reposURL := b.urls.GitHubAPI + "/installation/repositories"

	b.sim.FailNext(KeyGitHubRepositories, http.StatusBadGateway, 2)
	for range 2 {
		r := b.get(t, reposURL, tok)
		require.Equal(t, http.StatusBadGateway, r.status)
		var body map[string]string
		r.json(t, &body)
		require.Contains(t, body["message"], "injected")
	}
	require.Equal(t, http.StatusOK, b.get(t, reposURL, tok).status)
	require.Equal(t, 3, b.sim.Calls(KeyGitHubRepositories))
	require.Equal(t, 1, b.sim.Calls(KeyGitHubAccessToken))

	r := b.get(t, b.urls.Control+"/calls", "")
	var calls map[string]int
	r.json(t, &calls)
	require.Equal(t, 3, calls[KeyGitHubRepositories])

	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, b.urls.Control+"/calls", nil).status)
	require.Zero(t, b.sim.Calls(KeyGitHubRepositories))
	require.Empty(t, b.sim.AllCalls())
}

func TestFaultKinds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inst := b.sim.SeedGitHubInstallation(0, "")
	tok := b.installationToken(t, inst.ID)
	reposURL := b.urls.GitHubAPI + "/installation/repositories"

	t.Run("delay then normal answer", func(t *testing.T) {
		b.sim.DelayNext(KeyGitHubRepositories, 150*time.Millisecond, 1)
		start := time.Now()
		require.Equal(t, http.StatusOK, b.get(t, reposURL, tok).status)
		require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	})
	t.Run("body override", func(t *testing.T) {
		b.sim.InjectFault(Fault{Key: KeyGitHubRepositories, Body: `{"truncated":`})
		r := b.get(t, reposURL, tok)
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, `{"truncated":`, string(r.body))
	})
	t.Run("wildcard until cleared", func(t *testing.T) {
		b.sim.InjectFault(Fault{Key: "github.*", Status: http.StatusServiceUnavailable, Times: -1})
		for range 3 {
			require.Equal(t, http.StatusServiceUnavailable, b.get(t, reposURL, tok).status)
		}
		// Other providers are unaffected.
		require.NotEqual(t, http.StatusServiceUnavailable, b.get(t, b.urls.VercelAPI+"/v9/projects", "x").status)
		b.sim.ClearFaults()
		require.Equal(t, http.StatusOK, b.get(t, reposURL, tok).status)
	})
}

func TestRateLimitFaults(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name, key, method, url string
		fault                  Fault
		status                 int
		headers                []string
	}{
		{"github primary (403)", KeyGitHubRepositories, http.MethodGet, "/github/api/installation/repositories",
			Fault{RateLimit: true, RetryAfter: 30 * time.Second}, http.StatusForbidden,
			[]string{"X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"}},
		{"github secondary (429)", KeyGitHubPulls, http.MethodGet, "/github/api/repos/a/b/pulls",
			Fault{RateLimit: true, Status: 429}, http.StatusTooManyRequests,
			[]string{"X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"}},
		{"vercel", KeyVercelDeployments, http.MethodGet, "/vercel/api/v6/deployments",
			Fault{RateLimit: true}, http.StatusTooManyRequests, []string{"X-RateLimit-Reset"}},
		{"linear graphql", KeyLinearGraphQL, http.MethodPost, "/linear/api/graphql",
			Fault{RateLimit: true}, http.StatusBadRequest, []string{"X-RateLimit-Requests-Reset"}},
		{"sentry", KeySentryIssues, http.MethodGet, "/sentry/api/0/projects/o/p/issues/",
			Fault{RateLimit: true, RetryAfter: 1500 * time.Millisecond}, http.StatusTooManyRequests, []string{"Retry-After"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fault
			f.Key = tc.key
			b.sim.InjectFault(f)
			r := b.do(t, tc.method, b.urls.Base+tc.url, []byte(`{"query":"{viewer{id}}"}`))
			require.Equal(t, tc.status, r.status, "body: %s", r.body)
			for _, h := range tc.headers {
				require.NotEmpty(t, r.header.Get(h), h)
			}
			if rem := r.header.Get("X-RateLimit-Remaining"); rem != "" {
				require.Equal(t, "0", rem)
			}
			if ra := r.header.Get("Retry-After"); ra != "" {
				secs, err := strconv.Atoi(ra)
				require.NoError(t, err)
				require.Positive(t, secs)
			}
			// Only the next call was affected: it now reaches the handler (and fails auth).
			r = b.do(t, tc.method, b.urls.Base+tc.url, []byte(`{"query":"{viewer{id}}"}`))
			require.Equal(t, http.StatusUnauthorized, r.status)
		})
	}
}

func TestHTTPControlSurface(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctl := b.urls.Control

	// Seed over HTTP.
	r := b.do(t, http.MethodPost, ctl+"/seed", SeedRequest{Kind: "github.installation", InstallationID: 4242, Account: "acme", Users: []string{"sim-user"}})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	r = b.do(t, http.MethodPost, ctl+"/seed", SeedRequest{Kind: "github.repos", InstallationID: 4242, Count: 3})
	require.Equal(t, http.StatusCreated, r.status)
	var seeded struct {
		Items []GitHubRepo `json:"items"`
	}
	r.json(t, &seeded)
	require.Len(t, seeded.Items, 3)
	require.Equal(t, "acme/repo-1", seeded.Items[0].FullName)
	r = b.do(t, http.MethodPost, ctl+"/seed", SeedRequest{Kind: "github.pulls", Repo: "acme/repo-1", Count: 2})
	require.Equal(t, http.StatusCreated, r.status)
	r = b.do(t, http.MethodPost, ctl+"/seed", SeedRequest{Kind: "github.file", Repo: "acme/repo-1", Path: "lightfast.yml", Content: "v: 1"})
	require.Equal(t, http.StatusCreated, r.status)
	for _, bad := range []SeedRequest{{Kind: "nope"}, {Kind: "github.pulls", Repo: "no/such", Count: 1}} {
		require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPost, ctl+"/seed", bad).status)
	}

	// Consent over HTTP.
	r = b.do(t, http.MethodPost, ctl+"/consent", map[string]any{"provider": "github", "installationId": "4242"})
	require.Equal(t, http.StatusNoContent, r.status)
	q := b.get(t, b.urls.GitHubWeb+"/apps/lightfast-sim/installations/new?state=s", "").location(t).Query()
	require.Equal(t, "4242", q.Get("installation_id"))

	// Callbacks over HTTP.
	r = b.do(t, http.MethodPost, ctl+"/callbacks", map[string]string{"gateway": "http://127.0.0.1:9999"})
	require.Equal(t, http.StatusOK, r.status)
	loc := b.get(t, sentryInstallURL(b.urls), "").location(t)
	require.Equal(t, "127.0.0.1:9999", loc.Host)
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPost, ctl+"/callbacks", map[string]string{"linear": "not a url"}).status)

	// Faults over HTTP.
	r = b.do(t, http.MethodPost, ctl+"/faults", []map[string]any{
		{"key": KeyVercelProjects, "status": 500, "times": 2},
		{"key": KeySentryProjects, "delay": "10ms"},
	})
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var faults []map[string]any
	b.get(t, ctl+"/faults", "").json(t, &faults)
	require.Len(t, faults, 2)
	require.Equal(t, http.StatusInternalServerError, b.get(t, b.urls.VercelAPI+"/v9/projects", "").status)
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPost, ctl+"/faults", map[string]any{"status": 500}).status)
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPost, ctl+"/faults", map[string]any{"key": "x", "delay": "soon"}).status)
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodDelete, ctl+"/faults", nil).status)
	b.get(t, ctl+"/faults", "").json(t, &faults)
	require.Empty(t, faults)

	// Token expiry and refresh failure over HTTP.
	tok := b.installationToken(t, 4242)
	r = b.do(t, http.MethodPost, ctl+"/tokens/expire", map[string]string{"provider": "github"})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, http.StatusUnauthorized, b.get(t, b.urls.GitHubAPI+"/installation/repositories", tok).status)
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPost, ctl+"/tokens/expire", map[string]string{"provider": "gitlab"}).status)
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodPost, ctl+"/refresh/fail", map[string]any{"provider": "linear", "times": 1}).status)

	// State and URLs.
	var st State
	b.get(t, ctl+"/state", "").json(t, &st)
	require.NotEmpty(t, st.GitHubInstallations)
	require.Len(t, st.GitHubRepos[4242], 3)
	var urls URLs
	b.get(t, ctl+"/urls", "").json(t, &urls)
	require.Equal(t, b.urls, urls)

	// Reset forgets everything.
	require.Equal(t, http.StatusNoContent, b.do(t, http.MethodPost, ctl+"/reset", nil).status)
	_, ok := b.sim.GitHubInstallation(4242)
	require.False(t, ok)

	r = b.get(t, b.urls.Base+"/no/such/endpoint", "")
	require.Equal(t, http.StatusNotFound, r.status)
}

// sentryInstallURL is the Sentry consent URL for the default slug.
func sentryInstallURL(u URLs) string {
	return u.Sentry + "/sentry-apps/lightfast-sim/external-install/?" + url.Values{"state": {"x"}}.Encode()
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inst := b.sim.SeedGitHubInstallation(0, "")
	b.sim.SeedGitHubRepos(inst.ID, 5)
	tok := b.installationToken(t, inst.ID)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				req, _ := http.NewRequest(http.MethodGet, b.urls.GitHubAPI+"/installation/repositories", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					_ = resp.Body.Close()
				}
				b.sim.Calls(KeyGitHubRepositories)
				b.sim.SeedGitHubRepos(inst.ID, 1)
			}
		})
	}
	wg.Wait()
	require.Equal(t, workers*each, b.sim.Calls(KeyGitHubRepositories))
}

func TestURLsAndConfig(t *testing.T) {
	t.Parallel()
	u := URLsFor("http://127.0.0.1:4120/")
	require.Equal(t, "http://127.0.0.1:4120/github/api", u.GitHubAPI)
	require.Equal(t, GitHubWebURL("http://127.0.0.1:4120"), u.GitHubWeb)
	require.Equal(t, LinearAPIURL("http://127.0.0.1:4120"), u.Env()["LINEAR_API_URL"])
	require.Equal(t, "http://127.0.0.1:4120/sentry", SentryURL("http://127.0.0.1:4120"))

	require.Equal(t, "****", Secret("x").String())
	require.NoError(t, Config{}.Validate())
	require.Error(t, Config{Callbacks: CallbackURLs{GitHub: "/relative"}}.Validate())
	require.Error(t, Config{GitHubAppID: "abc"}.Validate())

	var c Config
	require.NoError(t, c.SetGatewayCallbacks("http://127.0.0.1:4110/"))
	require.Equal(t, "http://127.0.0.1:4110/connections/linear/callback", c.Callbacks.Linear)
}

func TestAutoSeedOnConsent(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) {
		c.AutoSeed = AutoSeed{
			Repos: 2, PullsPerRepo: 3, IssuesPerRepo: 2, ReleasesPerRepo: 1,
			VercelProjects: 2, DeploymentsPerProject: 2, LinearTeams: 2, IssuesPerTeam: 3,
			SentryProjects: 1, IssuesPerProject: 2,
		}
	})
	id, _ := githubConnect(t, b)
	tok := b.installationToken(t, id)
	var repos struct {
		Repositories []GitHubRepo `json:"repositories"`
	}
	b.get(t, b.urls.GitHubAPI+"/installation/repositories", tok).json(t, &repos)
	require.Len(t, repos.Repositories, 2)
	r := b.get(t, b.urls.GitHubAPI+"/repos/"+repos.Repositories[0].FullName+"/contents/lightfast.yml", tok)
	require.Equal(t, http.StatusOK, r.status, "the first demo repo has a config file")

	q, vtok := vercelConnect(t, b)
	var projects struct {
		Projects []VercelProject `json:"projects"`
	}
	b.get(t, b.urls.VercelAPI+"/v9/projects?teamId="+q.Get("teamId"), vtok.AccessToken).json(t, &projects)
	require.Len(t, projects.Projects, 2)

	ltok := linearConnect(t, b).AccessToken
	var data struct {
		Issues struct{ Nodes []struct{ ID string } }
	}
	_, errs := b.gql(t, ltok, `{ issues { nodes { id } } }`, nil, &data)
	require.Empty(t, errs)
	require.Len(t, data.Issues.Nodes, 6)

	_, stok := sentryConnect(t, b)
	var sp []SentryProject
	b.get(t, b.urls.Sentry+"/api/0/organizations/lightfast-sim/projects/", stok.Token).json(t, &sp)
	require.Len(t, sp, 1)

	// A second consent on the same account does not seed again.
	githubConnect(t, b)
	b.get(t, b.urls.GitHubAPI+"/installation/repositories", tok).json(t, &repos)
	require.Len(t, repos.Repositories, 2)
}

func TestOmitStateAndDeleteInstallation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, u := range []string{
		b.urls.GitHubWeb + "/apps/lightfast-sim/installations/new?state=s&sim_omit_state=1",
		b.urls.VercelWeb + "/integrations/lightfast-sim/new?state=s&sim_omit_state=1",
		b.urls.Sentry + "/sentry-apps/lightfast-sim/external-install/?state=s&sim_omit_state=1",
	} {
		q := b.get(t, u, "").location(t).Query()
		require.False(t, q.Has("state"), u)
		require.NotEmpty(t, q.Get("code"), u)
	}

	inst := b.sim.SeedGitHubInstallation(0, "")
	b.sim.SeedGitHubRepos(inst.ID, 2)
	tok := b.installationToken(t, inst.ID)
	b.sim.DeleteGitHubInstallation(inst.ID)
	require.Equal(t, http.StatusUnauthorized, b.get(t, b.urls.GitHubAPI+"/installation/repositories", tok).status)
	require.Equal(t, http.StatusNotFound, b.get(t, b.urls.GitHubAPI+"/app/installations/"+itoa(inst.ID), b.appJWT(t)).status)
	require.Empty(t, b.sim.State().GitHubRepos)
}
