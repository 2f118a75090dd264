package providerapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/providerapi"
	"github.com/lightfastai/connections/console/internal/simtest"
	"github.com/lightfastai/connections/db/types"
)

func TestMain(m *testing.M) { os.Exit(simtest.Main(m)) }

func clients(t *testing.T, timeout time.Duration) (*providerapi.Clients, *simtest.Sim) {
	s := simtest.Get(t)
	return providerapi.New(providerapi.Config{
		GitHubAPIURL: s.GitHubAPIURL, VercelAPIURL: s.VercelAPIURL, LinearAPIURL: s.LinearAPIURL, SentryURL: s.SentryURL, Timeout: timeout,
	}), s
}

func TestGitHubRepositoriesFollowLinkPaging(t *testing.T) {
	t.Parallel()
	c, s := clients(t, 0)
	inst, seeded := s.GitHub(t, 5)
	ctx := context.Background()

	p1, err := c.GitHub.ListRepositories(ctx, inst.Token, 1, 2)
	require.NoError(t, err)
	require.Len(t, p1.Repos, 2)
	require.Equal(t, 5, p1.TotalCount)
	require.Equal(t, 2, p1.NextPage)
	require.Equal(t, seeded[0].ID, p1.Repos[0].ID)
	require.Equal(t, inst.Account, p1.Repos[0].Owner.Login)

	p3, err := c.GitHub.ListRepositories(ctx, inst.Token, 3, 2)
	require.NoError(t, err)
	require.Len(t, p3.Repos, 1)
	require.Zero(t, p3.NextPage, "no next page on the last page")

	all, err := c.GitHub.AllRepositories(ctx, inst.Token, 1000)
	require.NoError(t, err)
	require.Len(t, all, 5)
}

func TestGitHubGetFile(t *testing.T) {
	t.Parallel()
	c, s := clients(t, 0)
	inst, repos := s.GitHub(t, 1)
	content := "version: 1\nevents: [push]\n" + "# a long line to make the base64 wrap across several sixty-column lines of the API\n"
	s.SetGitHubFile(t, repos[0].FullName, "", ".lightfast.yml", content)
	ctx := context.Background()

	got, found, err := c.GitHub.GetFile(ctx, inst.Token, repos[0].FullName, ".lightfast.yml", "")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, content, string(got))

	_, found, err = c.GitHub.GetFile(ctx, inst.Token, repos[0].FullName, "lightfast.yml", "main")
	require.NoError(t, err)
	require.False(t, found)

	_, _, err = c.GitHub.GetFile(ctx, inst.Token, "no-slash", "lightfast.yml", "")
	require.Error(t, err)
}

func TestGitHubBadTokenIsAProviderError(t *testing.T) {
	t.Parallel()
	c, _ := clients(t, 0)
	_, err := c.GitHub.ListRepositories(context.Background(), "ghs_not-a-token", 1, 10)
	var pe *providerapi.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, types.GitHub, pe.Provider)
	require.Equal(t, http.StatusUnauthorized, pe.Status)
	require.Equal(t, "Bad credentials", pe.Message)
	require.NotContains(t, err.Error(), "ghs_not-a-token")
}

func TestVercelProjectsCarryTeamIDAndPage(t *testing.T) {
	t.Parallel()
	c, s := clients(t, 0)
	ctx := context.Background()
	team := s.Vercel(t, 5, false)

	_, err := c.Vercel.ListProjects(ctx, team.Token, "", 2, "")
	require.True(t, providerapi.IsStatus(err, http.StatusForbidden), "a team token without teamId is refused: %v", err)

	p1, err := c.Vercel.ListProjects(ctx, team.Token, team.TeamID, 2, "")
	require.NoError(t, err)
	require.Len(t, p1.Projects, 2)
	require.NotEmpty(t, p1.Next)
	p2, err := c.Vercel.ListProjects(ctx, team.Token, team.TeamID, 2, p1.Next)
	require.NoError(t, err)
	require.Len(t, p2.Projects, 2)
	require.NotEqual(t, p1.Projects[0].ID, p2.Projects[0].ID)

	all, err := c.Vercel.AllProjects(ctx, team.Token, team.TeamID, 1000)
	require.NoError(t, err)
	require.Len(t, all, 5)

	personal := s.Vercel(t, 0, true)
	_, err = c.Vercel.ListProjects(ctx, personal.Token, "", 10, "")
	require.NoError(t, err)

	_, err = c.Vercel.ListProjects(ctx, team.Token, team.TeamID, 2, "not-a-number")
	require.Error(t, err)
}

func TestLinearTeamsPageThroughGraphQL(t *testing.T) {
	t.Parallel()
	c, s := clients(t, 0)
	ctx := context.Background()
	ln := s.Linear(t, 3)

	p1, err := c.Linear.ListTeams(ctx, ln.Token, 2, "")
	require.NoError(t, err)
	require.Len(t, p1.Teams, 2)
	require.NotEmpty(t, p1.EndCursor)
	require.NotEmpty(t, p1.Teams[0].Key)
	p2, err := c.Linear.ListTeams(ctx, ln.Token, 2, p1.EndCursor)
	require.NoError(t, err)
	require.Len(t, p2.Teams, 1)
	require.Empty(t, p2.EndCursor)

	_, err = c.Linear.ListTeams(ctx, "lin_oauth_bogus", 2, "")
	require.True(t, providerapi.IsStatus(err, http.StatusUnauthorized), "%v", err)
}

func TestSentryProjectsFollowCursorLink(t *testing.T) {
	t.Parallel()
	c, s := clients(t, 0)
	ctx := context.Background()
	se := s.Sentry(t, 3)

	p1, err := c.Sentry.ListProjects(ctx, se.Token, se.OrgSlug, "", 2)
	require.NoError(t, err)
	require.Len(t, p1.Projects, 2)
	require.NotEmpty(t, p1.NextCursor)
	p2, err := c.Sentry.ListProjects(ctx, se.Token, se.OrgSlug, p1.NextCursor, 2)
	require.NoError(t, err)
	require.Len(t, p2.Projects, 1)
	require.Empty(t, p2.NextCursor, `results="false" ends the paging`)

	all, err := c.Sentry.AllProjects(ctx, se.Token, se.OrgSlug, 1000)
	require.NoError(t, err)
	require.Len(t, all, 3)
}

// The fault tests change the shared simulator's behaviour for everyone, so they do not run in parallel
// (Go runs them before the parallel tests of the package are released).

func TestRateLimitsAreTypedWithResetTime(t *testing.T) {
	c, s := clients(t, 0)
	ctx := context.Background()
	gh, _ := s.GitHub(t, 1)
	vc := s.Vercel(t, 1, false)
	ln := s.Linear(t, 1)
	se := s.Sentry(t, 1)
	t.Cleanup(func() { s.ClearFaults(t) })

	calls := map[string]func() error{
		"github.installation.repositories": func() error { _, err := c.GitHub.ListRepositories(ctx, gh.Token, 1, 10); return err },
		"vercel.projects.list":             func() error { _, err := c.Vercel.ListProjects(ctx, vc.Token, vc.TeamID, 10, ""); return err },
		"linear.graphql.teams":             func() error { _, err := c.Linear.ListTeams(ctx, ln.Token, 10, ""); return err },
		"sentry.projects.list":             func() error { _, err := c.Sentry.ListProjects(ctx, se.Token, se.OrgSlug, "", 10); return err },
	}
	for key, call := range calls {
		t.Run(key, func(t *testing.T) {
			before := time.Now()
			s.Fault(t, map[string]any{"key": key, "rateLimit": true, "retryAfter": "90s"})
			err := call()
			var rl *providerapi.RateLimitError
			require.ErrorAs(t, err, &rl, "%v", err)
			require.WithinDuration(t, before.Add(90*time.Second), rl.Reset, 3*time.Second)
			p, ok := providerapi.ProviderOf(err)
			require.True(t, ok)
			require.Contains(t, key, string(p))
			require.NoError(t, call(), "the fault was used up; the next call works")
		})
	}
}

func TestProviderFailuresAndTimeouts(t *testing.T) {
	c, s := clients(t, 300*time.Millisecond)
	ctx := context.Background()
	gh, _ := s.GitHub(t, 1)
	t.Cleanup(func() { s.ClearFaults(t) })

	s.Fault(t, map[string]any{"key": "github.installation.repositories", "status": 502})
	_, err := c.GitHub.ListRepositories(ctx, gh.Token, 1, 10)
	require.True(t, providerapi.IsStatus(err, http.StatusBadGateway), "%v", err)

	s.Fault(t, map[string]any{"key": "github.installation.repositories", "delay": "2s"})
	start := time.Now()
	_, err = c.GitHub.ListRepositories(ctx, gh.Token, 1, 10)
	var pe *providerapi.Error
	require.ErrorAs(t, err, &pe)
	require.Contains(t, err.Error(), "timed out")
	require.Less(t, time.Since(start), 2*time.Second)

	s.Fault(t, map[string]any{"key": "github.installation.repositories", "body": "{not json"})
	_, err = c.GitHub.ListRepositories(ctx, gh.Token, 1, 10)
	require.ErrorAs(t, err, &pe)
	require.Contains(t, err.Error(), "decode response")
}

func TestRetryAfterWithoutRateLimitHeaders(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"detail":"slow down"}`)
	}))
	t.Cleanup(srv.Close)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := providerapi.New(providerapi.Config{SentryURL: srv.URL, Now: func() time.Time { return now }})
	_, err := c.Sentry.ListProjects(context.Background(), "tok", "org", "", 10)
	var rl *providerapi.RateLimitError
	require.True(t, errors.As(err, &rl))
	require.Equal(t, now.Add(30*time.Second), rl.Reset)
}
