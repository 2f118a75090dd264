package providersim

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type linearTokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	RefreshToken string `json:"refresh_token"`
	Error        string `json:"error"`
}

const testVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

func testChallenge() string {
	sum := sha256.Sum256([]byte(testVerifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// linearAuthorize runs the consent step with PKCE and returns the code.
func linearAuthorize(t *testing.T, b testBundle) string {
	t.Helper()
	cfg := b.sim.Config()
	q := url.Values{
		"client_id": {cfg.LinearClientID}, "redirect_uri": {cfg.Callbacks.Linear}, "response_type": {"code"},
		"scope": {"read,write"}, "state": {"ls"}, "prompt": {"consent"},
		"code_challenge": {testChallenge()}, "code_challenge_method": {"S256"},
	}
	cb := b.get(t, b.urls.LinearWeb+"/oauth/authorize?"+q.Encode(), "").location(t)
	require.Equal(t, "ls", cb.Query().Get("state"))
	require.NotEmpty(t, cb.Query().Get("code"))
	return cb.Query().Get("code")
}

func (b testBundle) linearToken(t *testing.T, form url.Values) (int, linearTokenResponse) {
	t.Helper()
	cfg := b.sim.Config()
	form.Set("client_id", cfg.LinearClientID)
	if !form.Has("client_secret") {
		form.Set("client_secret", string(cfg.LinearClientSecret))
	}
	r := b.do(t, http.MethodPost, b.urls.LinearAPI+"/oauth/token", form)
	var tok linearTokenResponse
	r.json(t, &tok)
	return r.status, tok
}

// linearConnect returns a fresh token pair.
func linearConnect(t *testing.T, b testBundle) linearTokenResponse {
	t.Helper()
	status, tok := b.linearToken(t, url.Values{
		"grant_type": {"authorization_code"}, "code": {linearAuthorize(t, b)},
		"redirect_uri": {b.sim.Config().Callbacks.Linear}, "code_verifier": {testVerifier},
	})
	require.Equal(t, http.StatusOK, status, "error: %s", tok.Error)
	return tok
}

func TestLinearOAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := linearConnect(t, b)
	require.Equal(t, "Bearer", tok.TokenType)
	require.Equal(t, 3600, tok.ExpiresIn)
	require.Equal(t, "read write", tok.Scope)
	require.NotEmpty(t, tok.RefreshToken)

	cfg := b.sim.Config()
	tests := []struct {
		name     string
		form     url.Values
		want     int
		wantCode string
	}{
		{"PKCE verifier mismatch", url.Values{"grant_type": {"authorization_code"}, "code": {linearAuthorize(t, b)},
			"redirect_uri": {cfg.Callbacks.Linear}, "code_verifier": {"wrong-verifier-wrong-verifier-wrong-verifier"}}, 400, "invalid_grant"},
		{"PKCE verifier missing", url.Values{"grant_type": {"authorization_code"}, "code": {linearAuthorize(t, b)},
			"redirect_uri": {cfg.Callbacks.Linear}}, 400, "invalid_grant"},
		{"redirect_uri mismatch", url.Values{"grant_type": {"authorization_code"}, "code": {linearAuthorize(t, b)},
			"redirect_uri": {"http://127.0.0.1:1/other"}, "code_verifier": {testVerifier}}, 400, "invalid_grant"},
		{"unknown code", url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "code_verifier": {testVerifier}}, 400, "invalid_grant"},
		{"wrong client secret", url.Values{"grant_type": {"authorization_code"}, "code": {linearAuthorize(t, b)},
			"client_secret": {"wrong"}, "code_verifier": {testVerifier}}, 401, "invalid_client"},
		{"unsupported grant", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, got := b.linearToken(t, tc.form)
			require.Equal(t, tc.want, status)
			require.Equal(t, tc.wantCode, got.Error)
			require.Empty(t, got.AccessToken)
		})
	}
}

func TestLinearAuthorizeValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := b.sim.Config()
	base := url.Values{"client_id": {cfg.LinearClientID}, "redirect_uri": {cfg.Callbacks.Linear}, "response_type": {"code"}, "state": {"s"}}
	with := func(k, v string) string {
		q := url.Values{}
		for kk, vv := range base {
			q[kk] = vv
		}
		q.Set(k, v)
		return b.urls.LinearWeb + "/oauth/authorize?" + q.Encode()
	}
	require.Equal(t, http.StatusBadRequest, b.get(t, with("client_id", "other"), "").status)
	require.Equal(t, http.StatusBadRequest, b.get(t, with("redirect_uri", "http://evil.example/cb"), "").status)
	require.Equal(t, "unsupported_response_type", b.get(t, with("response_type", "token"), "").location(t).Query().Get("error"))
	q := b.get(t, with("sim_deny", "1"), "").location(t).Query()
	require.Equal(t, "access_denied", q.Get("error"))
	require.Equal(t, "s", q.Get("state"))
}

func TestLinearRefreshRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := linearConnect(t, b)

	status, next := b.linearToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	require.Equal(t, http.StatusOK, status)
	require.NotEqual(t, tok.RefreshToken, next.RefreshToken, "refresh tokens rotate")
	require.NotEqual(t, tok.AccessToken, next.AccessToken)
	require.Equal(t, 1, b.sim.Calls(KeyLinearRefresh))

	// The old refresh token is dead.
	status, again := b.linearToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", again.Error)

	// Scripted failure, then recovery.
	b.sim.FailRefresh(ProviderLinear, 1)
	status, failed := b.linearToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next.RefreshToken}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", failed.Error)
	status, _ = b.linearToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next.RefreshToken}})
	require.Equal(t, http.StatusOK, status, "a scripted failure does not burn the token")
}

func TestLinearExpiryAndRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := linearConnect(t, b)
	query := map[string]any{"query": "{ viewer { id } }"}
	auth := []string{"Authorization", "Bearer " + tok.AccessToken}

	require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, b.urls.LinearAPI+"/graphql", query, auth...).status)
	b.sim.ExpireTokens(ProviderLinear)
	r := b.do(t, http.MethodPost, b.urls.LinearAPI+"/graphql", query, auth...)
	require.Equal(t, http.StatusUnauthorized, r.status)
	var body struct {
		Errors []gqlError `json:"errors"`
	}
	r.json(t, &body)
	require.Equal(t, "AUTHENTICATION_ERROR", body.Errors[0].Extensions["code"])

	status, fresh := b.linearToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	require.Equal(t, http.StatusOK, status)
	auth = []string{"Authorization", "Bearer " + fresh.AccessToken}
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPost, b.urls.LinearAPI+"/graphql", query, auth...).status)

	r = b.do(t, http.MethodPost, b.urls.LinearAPI+"/oauth/revoke", url.Values{"token": {fresh.AccessToken}})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, http.StatusUnauthorized, b.do(t, http.MethodPost, b.urls.LinearAPI+"/graphql", query, auth...).status)
	status, _ = b.linearToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {fresh.RefreshToken}})
	require.Equal(t, http.StatusBadRequest, status, "revoking the access token revokes its grant")
}

func TestLinearShortAccessTokenTTL(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := setup(t, func(c *Config) { c.LinearAccessTokenTTL = 30 * time.Second; c.Now = clock.Now })
	tok := linearConnect(t, b)
	require.Equal(t, 30, tok.ExpiresIn)
	clock.Advance(31 * time.Second)
	r := b.do(t, http.MethodPost, b.urls.LinearAPI+"/graphql", map[string]any{"query": "{viewer{id}}"}, "Authorization", "Bearer "+tok.AccessToken)
	require.Equal(t, http.StatusUnauthorized, r.status)
}

// gql posts a GraphQL request and decodes {data, errors}.
func (b testBundle) gql(t *testing.T, tok, query string, vars map[string]any, out any) (int, []gqlError) {
	t.Helper()
	r := b.do(t, http.MethodPost, b.urls.LinearAPI+"/graphql", map[string]any{"query": query, "variables": vars},
		"Authorization", "Bearer "+tok)
	var body struct {
		Data   jsonRaw    `json:"data"`
		Errors []gqlError `json:"errors"`
	}
	r.json(t, &body)
	if out != nil && len(body.Data) > 0 && string(body.Data) != "null" {
		response{body: body.Data}.json(t, out)
	}
	return r.status, body.Errors
}

func TestLinearGraphQL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	teams, err := b.sim.SeedLinearTeams("", 3)
	require.NoError(t, err)
	issues, err := b.sim.SeedLinearIssues(teams[0].ID, 12)
	require.NoError(t, err)
	_, err = b.sim.SeedLinearIssues(teams[1].Key, 4)
	require.NoError(t, err)
	tok := linearConnect(t, b).AccessToken

	t.Run("viewer and organization", func(t *testing.T) {
		var data struct {
			Viewer struct {
				ID, Name, Email string
				Organization    struct{ ID, Name, URLKey string }
			}
		}
		status, errs := b.gql(t, tok, `query Me { viewer { id name email organization { id name urlKey } } }`, nil, &data)
		require.Equal(t, http.StatusOK, status)
		require.Empty(t, errs)
		org := b.sim.LinearOrganizations()[0]
		require.Equal(t, org.ID, data.Viewer.Organization.ID)
		require.Equal(t, "lightfast-sim", data.Viewer.Organization.URLKey)
		require.NotEmpty(t, data.Viewer.Email)
	})

	t.Run("teams paging", func(t *testing.T) {
		var seen []string
		var after any
		for range 5 {
			var data struct {
				Teams struct {
					Nodes    []struct{ ID, Key, Name string }
					PageInfo struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
			_, errs := b.gql(t, tok, `query Teams($first: Int!, $after: String) {
				teams(first: $first, after: $after) { nodes { id key name } pageInfo { hasNextPage endCursor } }
			}`, map[string]any{"first": 2, "after": after}, &data)
			require.Empty(t, errs)
			for _, n := range data.Teams.Nodes {
				seen = append(seen, n.Key)
			}
			if !data.Teams.PageInfo.HasNextPage {
				break
			}
			after = data.Teams.PageInfo.EndCursor
		}
		require.Equal(t, []string{"ENG", "OPS", "DES"}, seen)
	})

	t.Run("issues filtered by team and updatedAt, paged", func(t *testing.T) {
		since := issues[6].UpdatedAt // the 6 newest of team 0 are at or after this
		var got []string
		var after any
		for range 10 {
			var data struct {
				Issues struct {
					Nodes []struct {
						ID, Identifier, Title, URL string
						UpdatedAt                  time.Time
						State                      struct{ Name string }
						Team                       struct{ ID string }
						Creator                    struct{ ID, Name string }
					}
					PageInfo struct {
						HasNextPage bool
						EndCursor   string
					}
				}
			}
			_, errs := b.gql(t, tok, `query Issues($teamId: ID!, $since: DateTimeOrDuration!, $after: String) {
				issues(first: 4, after: $after, orderBy: updatedAt,
				       filter: { team: { id: { eq: $teamId } }, updatedAt: { gte: $since } }) {
					nodes { id identifier title description url createdAt updatedAt state { name } creator { id name } team { id } }
					pageInfo { hasNextPage endCursor }
				}
			}`, map[string]any{"teamId": teams[0].ID, "since": since.Format(time.RFC3339Nano), "after": after}, &data)
			require.Empty(t, errs)
			for _, n := range data.Issues.Nodes {
				require.Equal(t, teams[0].ID, n.Team.ID)
				require.False(t, n.UpdatedAt.Before(since))
				require.NotEmpty(t, n.State.Name)
				require.NotEmpty(t, n.Creator.ID)
				got = append(got, n.Identifier)
			}
			if !data.Issues.PageInfo.HasNextPage {
				break
			}
			after = data.Issues.PageInfo.EndCursor
		}
		require.Len(t, got, 6)
		require.Equal(t, issues[11].Identifier, got[0], "newest first")
	})

	t.Run("relative duration filter and nested team issues", func(t *testing.T) {
		var data struct {
			Team struct {
				Key    string
				Issues struct{ Nodes []struct{ Identifier string } }
			} `json:"t"`
		}
		// 4 issues of team 1 are 6h, 12h, 18h, 24h old: a 13-hour window holds two.
		_, errs := b.gql(t, tok, `{ t: team(id: "OPS") { key issues(filter: {updatedAt: {gt: "-PT13H"}}) { nodes { ...F } } } }
			fragment F on Issue { identifier }`, nil, &data)
		require.Empty(t, errs)
		require.Equal(t, "OPS", data.Team.Key)
		require.Len(t, data.Team.Issues.Nodes, 2)
	})

	t.Run("webhookCreate", func(t *testing.T) {
		var data struct {
			WebhookCreate struct {
				Success bool
				Webhook struct {
					ID      string
					Enabled bool
					Secret  string
				}
			}
		}
		_, errs := b.gql(t, tok, `mutation Create($input: WebhookCreateInput!) {
			webhookCreate(input: $input) { success webhook { id enabled secret } }
		}`, map[string]any{"input": map[string]any{
			"url": "http://127.0.0.1:4110/webhooks/linear", "allPublicTeams": true,
			"resourceTypes": []string{"Issue", "Comment", "Project"},
		}}, &data)
		require.Empty(t, errs)
		require.True(t, data.WebhookCreate.Success)
		require.True(t, data.WebhookCreate.Webhook.Enabled)
		require.Regexp(t, `^lin_wh_`, data.WebhookCreate.Webhook.Secret)
		hooks := b.sim.LinearWebhooks()
		require.Len(t, hooks, 1)
		require.Equal(t, data.WebhookCreate.Webhook.Secret, hooks[0].Secret)

		_, errs = b.gql(t, tok, `mutation { webhookCreate(input: {url: "http://127.0.0.1:1/x", teamId: "ENG", resourceTypes: ["Issue"], secret: "chosen"}) { webhook { secret } } }`, nil, &data)
		require.Empty(t, errs)
		require.Equal(t, "chosen", data.WebhookCreate.Webhook.Secret)
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name, query string
			status      int
			code        string
		}{
			{"syntax", `{ viewer { id `, http.StatusBadRequest, "GRAPHQL_PARSE_FAILED"},
			{"unknown root field", `{ cycles { nodes { id } } }`, http.StatusBadRequest, "GRAPHQL_VALIDATION_FAILED"},
			{"bad input", `mutation { webhookCreate(input: {url: "not a url", resourceTypes: ["Issue"], allPublicTeams: true}) { success } }`, http.StatusOK, "INPUT_ERROR"},
			{"missing team", `mutation { webhookCreate(input: {url: "http://x.example/", resourceTypes: ["Issue"], teamId: "NOPE"}) { success } }`, http.StatusOK, "INPUT_ERROR"},
			{"unknown entity", `{ team(id: "nope") { id } }`, http.StatusOK, "INPUT_ERROR"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				status, errs := b.gql(t, tok, tc.query, nil, nil)
				require.Equal(t, tc.status, status)
				require.Len(t, errs, 1)
				require.Equal(t, tc.code, errs[0].Extensions["code"])
				require.NotEmpty(t, errs[0].Message)
			})
		}
	})

	t.Run("per-field counters and faults", func(t *testing.T) {
		before := b.sim.Calls(KeyLinearGraphQL + ".viewer")
		b.gql(t, tok, `{ viewer { id } }`, nil, nil)
		require.Equal(t, before+1, b.sim.Calls(KeyLinearGraphQL+".viewer"))

		b.sim.RateLimitNext(KeyLinearGraphQL+".webhookCreate", 1, 2*time.Second)
		r := b.do(t, http.MethodPost, b.urls.LinearAPI+"/graphql",
			map[string]any{"query": `mutation { webhookCreate(input: {url: "http://x.example/", allPublicTeams: true, resourceTypes: ["Issue"]}) { success } }`},
			"Authorization", "Bearer "+tok)
		require.Equal(t, http.StatusBadRequest, r.status)
		var body struct{ Errors []gqlError }
		r.json(t, &body)
		require.Equal(t, "RATELIMITED", body.Errors[0].Extensions["code"])
		reset, err := strconv.ParseInt(r.header.Get("X-RateLimit-Requests-Reset"), 10, 64)
		require.NoError(t, err)
		require.Greater(t, reset, time.Now().UnixMilli(), "reset is epoch milliseconds in the future")
	})
}
