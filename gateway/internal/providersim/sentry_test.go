package providersim

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type sentryTokenResponse struct {
	Token        string    `json:"token"`
	RefreshToken string    `json:"refreshToken"`
	ExpiresAt    time.Time `json:"expiresAt"`
	DateCreated  time.Time `json:"dateCreated"`
	Scopes       []string  `json:"scopes"`
	Detail       string    `json:"detail"`
}

func (b testBundle) sentryAuthorize(t *testing.T, installationID string, body map[string]string) (int, sentryTokenResponse) {
	t.Helper()
	cfg := b.sim.Config()
	body["client_id"] = cfg.SentryClientID
	if _, ok := body["client_secret"]; !ok {
		body["client_secret"] = string(cfg.SentryClientSecret)
	}
	r := b.do(t, http.MethodPost, b.urls.Sentry+"/api/0/sentry-app-installations/"+installationID+"/authorizations/", body)
	var tok sentryTokenResponse
	r.json(t, &tok)
	return r.status, tok
}

// sentryConnect runs the install consent, the code exchange and the verify step.
func sentryConnect(t *testing.T, b testBundle) (string, sentryTokenResponse) {
	t.Helper()
	cb := b.get(t, b.urls.Sentry+"/sentry-apps/lightfast-sim/external-install/?state=ss", "").location(t)
	q := cb.Query()
	require.Equal(t, "/connections/sentry/callback", cb.Path)
	require.Equal(t, "ss", q.Get("state"))
	require.Equal(t, "lightfast-sim", q.Get("orgSlug"))
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$`, q.Get("installationId"))
	id := q.Get("installationId")

	status, tok := b.sentryAuthorize(t, id, map[string]string{"grant_type": "authorization_code", "code": q.Get("code")})
	require.Equal(t, http.StatusCreated, status, tok.Detail)
	require.NotEmpty(t, tok.Token)
	require.NotEmpty(t, tok.RefreshToken)
	require.WithinDuration(t, time.Now().Add(8*time.Hour), tok.ExpiresAt, time.Minute)

	r := b.do(t, http.MethodPut, b.urls.Sentry+"/api/0/sentry-app-installations/"+id+"/",
		map[string]string{"status": "installed"}, "Authorization", "Bearer "+tok.Token)
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var inst struct{ UUID, Status string }
	r.json(t, &inst)
	require.Equal(t, "installed", inst.Status)
	return id, tok
}

func TestSentryConnectAndRefresh(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, tok := sentryConnect(t, b)
	require.Equal(t, "installed", b.sim.SentryInstallations()[0].Status)
	projectsURL := b.urls.Sentry + "/api/0/organizations/lightfast-sim/projects/"
	require.Equal(t, http.StatusOK, b.get(t, projectsURL, tok.Token).status)

	status, next := b.sentryAuthorize(t, id, map[string]string{"grant_type": "refresh_token", "refresh_token": tok.RefreshToken})
	require.Equal(t, http.StatusCreated, status, next.Detail)
	require.NotEqual(t, tok.RefreshToken, next.RefreshToken)
	require.Equal(t, 1, b.sim.Calls(KeySentryRefresh))

	// Sentry deletes the old token pair on refresh.
	require.Equal(t, http.StatusUnauthorized, b.get(t, projectsURL, tok.Token).status)
	status, again := b.sentryAuthorize(t, id, map[string]string{"grant_type": "refresh_token", "refresh_token": tok.RefreshToken})
	require.Equal(t, http.StatusUnauthorized, status)
	require.Equal(t, "Given refresh token does not exist", again.Detail)
	require.Equal(t, http.StatusOK, b.get(t, projectsURL, next.Token).status)

	b.sim.FailRefresh(ProviderSentry, 1)
	status, _ = b.sentryAuthorize(t, id, map[string]string{"grant_type": "refresh_token", "refresh_token": next.RefreshToken})
	require.Equal(t, http.StatusUnauthorized, status)

	tests := []struct {
		name   string
		id     string
		body   map[string]string
		status int
	}{
		{"wrong secret", id, map[string]string{"grant_type": "refresh_token", "refresh_token": next.RefreshToken, "client_secret": "x"}, http.StatusUnauthorized},
		{"bad grant type", id, map[string]string{"grant_type": "password"}, http.StatusForbidden},
		{"unknown installation", "00000000-0000-4000-8000-000000000000", map[string]string{"grant_type": "refresh_token", "refresh_token": next.RefreshToken}, http.StatusNotFound},
		{"unknown code", id, map[string]string{"grant_type": "authorization_code", "code": "nope"}, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _ := b.sentryAuthorize(t, tc.id, tc.body)
			require.Equal(t, tc.status, status)
		})
	}

	// Uninstall: 204, then every token is dead.
	r := b.do(t, http.MethodDelete, b.urls.Sentry+"/api/0/sentry-app-installations/"+id+"/", nil, "Authorization", "Bearer "+next.Token)
	require.Equal(t, http.StatusNoContent, r.status)
	require.Equal(t, http.StatusUnauthorized, b.get(t, projectsURL, next.Token).status)
}

var sentryLink = regexp.MustCompile(`<([^>]+)>; rel="(previous|next)"; results="(true|false)"; cursor="([^"]+)"`)

// sentryPages follows rel="next" while results="true".
func sentryPages(t *testing.T, b testBundle, first, tok string) []response {
	t.Helper()
	var pages []response
	next := first
	for next != "" {
		r := b.get(t, next, tok)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		pages = append(pages, r)
		next = ""
		ms := sentryLink.FindAllStringSubmatch(r.header.Get("Link"), -1)
		require.Len(t, ms, 2, "Sentry always sends previous and next: %s", r.header.Get("Link"))
		for _, m := range ms {
			require.Contains(t, m[1], "&cursor="+m[4])
			if m[2] == "next" && m[3] == "true" {
				next = m[1]
			}
		}
		require.Less(t, len(pages), 50)
	}
	return pages
}

func TestSentryCursorPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, tok := sentryConnect(t, b)
	projects, err := b.sim.SeedSentryProjects("", 7)
	require.NoError(t, err)
	issues, err := b.sim.SeedSentryIssues("", projects[0].Slug, 10)
	require.NoError(t, err)

	pages := sentryPages(t, b, b.urls.Sentry+"/api/0/organizations/lightfast-sim/projects/?per_page=3", tok.Token)
	require.Len(t, pages, 3)
	seen := map[string]int{}
	for _, p := range pages {
		var page []SentryProject
		p.json(t, &page)
		for _, pr := range page {
			seen[pr.ID]++
		}
	}
	require.Len(t, seen, 7)
	for _, p := range projects {
		require.Equal(t, 1, seen[p.ID])
	}

	issuesURL := b.urls.Sentry + "/api/0/projects/lightfast-sim/" + projects[0].Slug + "/issues/"
	t.Run("all issues, newest first", func(t *testing.T) {
		var got []SentryIssue
		for _, p := range sentryPages(t, b, issuesURL+"?query=&per_page=4", tok.Token) {
			var page []SentryIssue
			p.json(t, &page)
			got = append(got, page...)
		}
		require.Len(t, got, len(issues))
		for i := 1; i < len(got); i++ {
			require.True(t, got[i-1].LastSeen.After(got[i].LastSeen))
		}
	})
	t.Run("default query is is:unresolved", func(t *testing.T) {
		var page []SentryIssue
		b.get(t, issuesURL, tok.Token).json(t, &page)
		require.Len(t, page, 7)
		for _, is := range page {
			require.Equal(t, "unresolved", is.Status)
		}
	})
	t.Run("lastSeen window", func(t *testing.T) {
		var page []SentryIssue
		// Seeds are 6h apart, the newest 6h old: 25 hours hold four.
		b.get(t, issuesURL+"?query=lastSeen:-25h", tok.Token).json(t, &page)
		require.Len(t, page, 4)
	})
	t.Run("bad cursor", func(t *testing.T) {
		require.Equal(t, http.StatusBadRequest, b.get(t, issuesURL+"?cursor=zzz", tok.Token).status)
	})
	t.Run("other organization", func(t *testing.T) {
		_, err := b.sim.SeedSentryProjects("other-org", 1)
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, b.get(t, b.urls.Sentry+"/api/0/organizations/other-org/projects/", tok.Token).status)
		require.Equal(t, http.StatusNotFound, b.get(t, b.urls.Sentry+"/api/0/projects/lightfast-sim/nope/issues/", tok.Token).status)
	})
}
