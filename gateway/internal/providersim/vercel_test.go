package providersim

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

type vercelTokenResponse struct {
	AccessToken    string  `json:"access_token"`
	TokenType      string  `json:"token_type"`
	InstallationID string  `json:"installation_id"`
	UserID         string  `json:"user_id"`
	TeamID         *string `json:"team_id"`
}

// vercelConnect runs the install consent and the code exchange.
func vercelConnect(t *testing.T, b testBundle) (url.Values, vercelTokenResponse) {
	t.Helper()
	cb := b.get(t, b.urls.VercelWeb+"/integrations/lightfast-sim/new?state=vs", "").location(t)
	q := cb.Query()
	require.Equal(t, "/connections/vercel/callback", cb.Path)
	require.Equal(t, "vs", q.Get("state"))
	require.Regexp(t, `^icfg_`, q.Get("configurationId"))
	require.NotEmpty(t, q.Get("code"))
	require.NotEmpty(t, q.Get("next"))

	cfg := b.sim.Config()
	r := b.do(t, http.MethodPost, b.urls.VercelAPI+"/v2/oauth/access_token", url.Values{
		"client_id": {cfg.VercelClientID}, "client_secret": {string(cfg.VercelClientSecret)},
		"code": {q.Get("code")}, "redirect_uri": {cfg.Callbacks.Vercel},
	})
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	var tok vercelTokenResponse
	r.json(t, &tok)
	require.Equal(t, "Bearer", tok.TokenType)
	require.Equal(t, q.Get("configurationId"), tok.InstallationID)
	require.NotEmpty(t, tok.AccessToken)
	return q, tok
}

func TestVercelConnectAndTeamScoping(t *testing.T) {
	t.Parallel()
	b := setup(t)
	q, tok := vercelConnect(t, b)
	teamID := q.Get("teamId")
	require.NotEmpty(t, teamID)
	require.NotNil(t, tok.TeamID)
	require.Equal(t, teamID, *tok.TeamID)

	r := b.get(t, b.urls.VercelAPI+"/v2/teams/"+teamID, tok.AccessToken)
	require.Equal(t, http.StatusOK, r.status)
	var team VercelTeam
	r.json(t, &team)
	require.Equal(t, teamID, team.ID)
	require.Equal(t, "lightfast-sim", team.Slug)

	tests := []struct {
		name, query string
		want        int
	}{
		{"team token without teamId", "", http.StatusForbidden},
		{"other team", "?teamId=team_other", http.StatusForbidden},
		{"teamId", "?teamId=" + teamID, http.StatusOK},
		{"slug", "?slug=lightfast-sim", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := b.get(t, b.urls.VercelAPI+"/v9/projects"+tc.query, tok.AccessToken)
			require.Equal(t, tc.want, r.status, "body: %s", r.body)
			if tc.want != http.StatusOK {
				var body struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				r.json(t, &body)
				require.Equal(t, "forbidden", body.Error.Code)
			}
		})
	}

	// The code is single use; redirect_uri must match.
	cfg := b.sim.Config()
	r = b.do(t, http.MethodPost, b.urls.VercelAPI+"/v2/oauth/access_token", url.Values{
		"client_id": {cfg.VercelClientID}, "client_secret": {string(cfg.VercelClientSecret)}, "code": {q.Get("code")},
	})
	require.Equal(t, http.StatusBadRequest, r.status)
	q2 := b.get(t, b.urls.VercelWeb+"/integrations/lightfast-sim/new", "").location(t).Query()
	r = b.do(t, http.MethodPost, b.urls.VercelAPI+"/v2/oauth/access_token", url.Values{
		"client_id": {cfg.VercelClientID}, "client_secret": {string(cfg.VercelClientSecret)},
		"code": {q2.Get("code")}, "redirect_uri": {"http://evil.example/cb"},
	})
	require.Equal(t, http.StatusBadRequest, r.status)
	var oerr map[string]string
	r.json(t, &oerr)
	require.Equal(t, "invalid_grant", oerr["error"])
}

func TestVercelPersonalAccount(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.sim.QueueConsent(ProviderVercel, Consent{Personal: true}))
	q, tok := vercelConnect(t, b)
	require.Empty(t, q.Get("teamId"))
	require.Nil(t, tok.TeamID)
	_, err := b.sim.SeedVercelProjects(b.sim.Config().VercelUserID, 2)
	require.NoError(t, err)

	r := b.get(t, b.urls.VercelAPI+"/v9/projects", tok.AccessToken)
	require.Equal(t, http.StatusOK, r.status)
	var body struct {
		Projects []VercelProject `json:"projects"`
	}
	r.json(t, &body)
	require.Len(t, body.Projects, 2)
	r = b.get(t, b.urls.VercelAPI+"/v9/projects?teamId=team_x", tok.AccessToken)
	require.Equal(t, http.StatusForbidden, r.status)
}

func TestVercelPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	q, tok := vercelConnect(t, b)
	teamID := q.Get("teamId")
	projects, err := b.sim.SeedVercelProjects("", 12)
	require.NoError(t, err)
	deployments, err := b.sim.SeedVercelDeployments(projects[0].ID, 9)
	require.NoError(t, err)
	_, err = b.sim.SeedVercelDeployments(projects[1].ID, 3)
	require.NoError(t, err)

	type page struct {
		Pagination vercelPagination `json:"pagination"`
	}
	for _, path := range []string{"/v9/projects", "/v10/projects"} {
		t.Run(path, func(t *testing.T) {
			seen := map[string]int{}
			next := ""
			for pages := 0; ; pages++ {
				require.Less(t, pages, 20)
				u := b.urls.VercelAPI + path + "?teamId=" + teamID + "&limit=5"
				if next != "" {
					u += "&until=" + next
				}
				r := b.get(t, u, tok.AccessToken)
				require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
				var body struct {
					page
					Projects []VercelProject `json:"projects"`
				}
				r.json(t, &body)
				require.Equal(t, len(body.Projects), body.Pagination.Count)
				for _, p := range body.Projects {
					seen[p.ID]++
				}
				if body.Pagination.Next == nil {
					break
				}
				next = strconv.FormatInt(*body.Pagination.Next, 10)
			}
			require.Len(t, seen, len(projects))
			for _, p := range projects {
				require.Equal(t, 1, seen[p.ID])
			}
		})
	}

	t.Run("deployments", func(t *testing.T) {
		var got []VercelDeployment
		next := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 20)
			u := b.urls.VercelAPI + "/v6/deployments?projectId=" + projects[0].ID + "&teamId=" + teamID + "&limit=4"
			if next != "" {
				u += "&until=" + next
			}
			r := b.get(t, u, tok.AccessToken)
			require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
			require.NotEmpty(t, r.header.Get("X-RateLimit-Remaining"))
			var body struct {
				page
				Deployments []VercelDeployment `json:"deployments"`
			}
			r.json(t, &body)
			got = append(got, body.Deployments...)
			if body.Pagination.Next == nil {
				break
			}
			next = strconv.FormatInt(*body.Pagination.Next, 10)
		}
		require.Len(t, got, len(deployments))
		for i := 1; i < len(got); i++ {
			require.Greater(t, got[i-1].Created, got[i].Created, "newest first, no repeats")
		}
		require.NotEmpty(t, got[0].Creator.Username)
		require.NotEmpty(t, got[0].Meta["githubCommitSha"])

		// Without projectId: every project of the team.
		r := b.get(t, b.urls.VercelAPI+"/v6/deployments?teamId="+teamID+"&limit=100", tok.AccessToken)
		var all struct {
			Deployments []VercelDeployment `json:"deployments"`
		}
		r.json(t, &all)
		require.Len(t, all.Deployments, 12)
	})
}

func TestVercelRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	q, tok := vercelConnect(t, b)
	cfgID, teamID := q.Get("configurationId"), q.Get("teamId")

	r := b.do(t, http.MethodDelete, b.urls.VercelAPI+"/v1/integrations/configuration/"+cfgID+"?teamId="+teamID, nil,
		"Authorization", "Bearer "+tok.AccessToken)
	require.Equal(t, http.StatusNoContent, r.status, "body: %s", r.body)
	require.Equal(t, 1, b.sim.Calls(KeyVercelConfigDelete))

	r = b.get(t, b.urls.VercelAPI+"/v9/projects?teamId="+teamID, tok.AccessToken)
	require.Equal(t, http.StatusUnauthorized, r.status)
	confs := b.sim.VercelConfigurations()
	require.Len(t, confs, 1)
	require.True(t, confs[0].Removed)
}
