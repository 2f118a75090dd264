package connect_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/types"
	dbvault "github.com/lightfastai/connections/db/vault"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

// requireNothingWritten: no installation and no token exist.
func requireNothingWritten(t *testing.T, g *gatewaytest.Gateway) {
	t.Helper()
	require.Zero(t, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_installations`))
	require.Zero(t, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_tokens`))
}

// requireErrorPage checks a response that ended on the gateway with a JSON error of a stable code.
func requireErrorPage(t *testing.T, out gatewaytest.Outcome, status int, code string) {
	t.Helper()
	require.Equal(t, status, out.Status, out.Body)
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(out.Body), &body), out.Body)
	require.Equal(t, code, body.Error.Code)
	require.NotEmpty(t, body.Error.Message)
}

// requireConsoleError checks a flow that went back to the Console with an error code.
func requireConsoleError(t *testing.T, out gatewaytest.Outcome, p types.Provider, code string) {
	t.Helper()
	require.Equal(t, http.StatusFound, out.Status, out.Body)
	require.Equal(t, gatewaytest.ConsoleURL+"/connected", out.Location.Scheme+"://"+out.Location.Host+out.Location.Path)
	require.Equal(t, string(p), out.Provider)
	require.Equal(t, code, out.Error)
	require.Empty(t, out.InstallationID)
}

func TestBadStates(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	ctx := context.Background()

	used := g.NewState(t, types.Sentry, "org_a", "user_1")
	_, err := oauthstate.Consume(ctx, g.Pool, types.Sentry, used)
	require.NoError(t, err)
	expired := g.NewState(t, types.Sentry, "org_a", "user_1")
	_, err = g.Pool.Exec(ctx, `UPDATE lightfast_gw_oauth_states SET expires_at = now() - interval '1 second' WHERE state_hash = $1`,
		oauthstate.Hash(expired))
	require.NoError(t, err)
	forGitHub := g.NewState(t, types.GitHub, "org_a", "user_1")

	cases := map[string]struct {
		state string
		// authorize and callback are the codes of each step. The callback is made with the state both
		// in its query and in the browser's cookie (as authorize would have set it), so only the state
		// itself is wrong; without a cookie at all it is invalid_state (TestSecurityCallbackNeedsTheStateCookie).
		authorize, callback string
	}{
		"missing":        {"", "missing_state", "invalid_state"},
		"unknown":        {strings.Repeat("x", 43), "invalid_state", "invalid_state"},
		"malformed":      {"<script>", "invalid_state", "invalid_state"},
		"reused":         {used, "invalid_state", "invalid_state"},
		"expired":        {expired, "expired_state", "expired_state"},
		"other provider": {forGitHub, "state_provider_mismatch", "state_provider_mismatch"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for step, code := range map[string]string{"authorize": tc.authorize, "callback": tc.callback} {
				u := g.URL + "/connections/sentry/" + step + "?code=abc&installationId=x"
				if tc.state != "" {
					u += "&state=" + url.QueryEscape(tc.state)
				}
				browser := g.Browser(t)
				if step == "callback" && tc.state != "" {
					setStateCookie(t, g, browser, types.Sentry, tc.state)
				}
				out := g.Follow(t, browser, u)
				requireErrorPage(t, out, http.StatusBadRequest, code)
			}
		})
	}
	requireNothingWritten(t, g)
	// Refusals consumed nothing: the GitHub state still works for GitHub, and no provider was called.
	require.Zero(t, g.Sim.Calls(providersim.KeySentryAuthorizations))
	require.Equal(t, 2, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_oauth_states`))
	out := g.Follow(t, g.Browser(t), g.AuthorizeURL(types.GitHub, forGitHub))
	require.Empty(t, out.Error)
	require.NotEmpty(t, out.InstallationID)
	g.RequireNoSecretsLogged(t)
}

func TestCallbackReplayIsRefused(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	// Stop at the gateway callback to keep its URL, then use it twice from the browser that started it.
	var callback string
	browser := g.Browser(t)
	browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		g.Seen.AddURL(req.URL)
		if req.URL.Host == "console.invalid" {
			return http.ErrUseLastResponse
		}
		if callback == "" && strings.Contains(req.URL.Path, "/callback") {
			callback = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}
	state := g.NewState(t, types.Vercel, "org_a", "user_1")
	g.Follow(t, browser, g.AuthorizeURL(types.Vercel, state))
	require.NotEmpty(t, callback)

	first := g.Follow(t, browser, callback)
	require.NotEmpty(t, first.InstallationID)
	// The callback cleared the cookie with the state; a replay carrying the cookie again (as an attacker
	// who copied both would) finds the state used up.
	replay := g.Browser(t)
	setStateCookie(t, g, replay, types.Vercel, state)
	second := g.Follow(t, replay, callback)
	requireErrorPage(t, second, http.StatusBadRequest, "invalid_state")
	// And the browser that made the first one has no cookie left.
	requireErrorPage(t, g.Follow(t, browser, callback), http.StatusBadRequest, "invalid_state")
	require.Equal(t, 1, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_installations`))
	require.Equal(t, 1, g.Sim.Calls(providersim.KeyVercelOAuthToken))
}

// setStateCookie puts the state cookie authorize would have set for state into browser's jar.
func setStateCookie(t *testing.T, g *gatewaytest.Gateway, browser *http.Client, p types.Provider, state string) {
	t.Helper()
	u, err := url.Parse(g.URL + "/connections/" + string(p) + "/callback")
	require.NoError(t, err)
	browser.Jar.SetCookies(u, []*http.Cookie{{Name: "lf_connect_state", Value: state, Path: u.Path}})
}

func TestStateTravelsInCookieWhenProviderDropsIt(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	browser := g.Browser(t)
	// The browser strips state from the provider's redirect, as a provider that does not echo it would.
	browser.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		g.Seen.AddURL(req.URL)
		if req.URL.Host == "console.invalid" {
			return http.ErrUseLastResponse
		}
		if strings.HasSuffix(req.URL.Path, "/callback") {
			q := req.URL.Query()
			q.Del("state")
			req.URL.RawQuery = q.Encode()
		}
		return nil
	}
	resp, err := browser.Get(g.AuthorizeURL(types.Sentry, g.NewState(t, types.Sentry, "org_a", "user_1")))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.Empty(t, loc.Query().Get("error"))
	require.NotEmpty(t, loc.Query().Get("installationId"))
}

func TestAuthorizeRedirectAndCookie(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	state := g.NewState(t, types.Linear, "org_a", "user_1")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(g.AuthorizeURL(types.Linear, state))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc.String(), g.SimURLs.LinearWeb+"/oauth/authorize?"))
	q := loc.Query()
	require.Equal(t, state, q.Get("state"))
	require.Equal(t, "S256", q.Get("code_challenge_method"))
	require.Len(t, q.Get("code_challenge"), 43)
	require.Equal(t, "code", q.Get("response_type"))
	require.Equal(t, "consent", q.Get("prompt"))
	require.Equal(t, g.URL+"/connections/linear/callback", q.Get("redirect_uri"))

	cookies := resp.Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	require.Equal(t, state, c.Value)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)
	require.Equal(t, "/connections/linear/callback", c.Path)
	require.LessOrEqual(t, c.MaxAge, 601)
	require.False(t, c.Secure, "APP_ENV=test: no Secure, so it works over plain http locally")
	// Authorize does not use the state up.
	require.Equal(t, 1, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_oauth_states`))
}

func TestStateCookieIsSecureOutsideLocalDevelopment(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t, gatewaytest.Options{SecureCookies: true})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(g.AuthorizeURL(types.GitHub, g.NewState(t, types.GitHub, "org_a", "user_1")))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.Len(t, resp.Cookies(), 1)
	c := resp.Cookies()[0]
	require.True(t, c.Secure)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)
}

func TestUnknownProvider(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	state := g.NewState(t, types.GitHub, "org_a", "user_1")
	for _, u := range []string{
		g.URL + "/connections/gitlab/authorize?state=" + state,
		g.URL + "/connections/gitlab/callback?state=" + state + "&code=x",
	} {
		requireErrorPage(t, g.Follow(t, g.Browser(t), u), http.StatusNotFound, "unknown_provider")
	}
	resp, body := gatewaytest.Req(t, http.MethodDelete, g.URL+"/connections/gitlab/abc", gatewaytest.APIKey)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Contains(t, body, `"unknown_provider"`)
	requireNothingWritten(t, g)
}

func TestDeniedConsent(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	for _, p := range types.Providers {
		require.NoError(t, g.Sim.QueueConsent(string(p), providersim.Consent{Deny: true}))
		out := g.Follow(t, g.Browser(t), g.AuthorizeURL(p, g.NewState(t, p, "org_a", "user_1")))
		requireConsoleError(t, out, p, "access_denied")
	}
	requireNothingWritten(t, g)
	require.Zero(t, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_oauth_states`), "denied flows used their states up")
}

func TestProviderFailures(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	cases := []struct {
		provider types.Provider
		key      string
		code     string
	}{
		{types.GitHub, providersim.KeyGitHubAppInstallation, "provider_error"},
		{types.Vercel, providersim.KeyVercelOAuthToken, "provider_error"},
		{types.Linear, providersim.KeyLinearOAuthToken, "provider_error"},
		{types.Linear, providersim.KeyLinearGraphQL + ".webhookCreate", "provider_error"},
		{types.Sentry, providersim.KeySentryInstallUpdate, "provider_error"},
	}
	for _, tc := range cases {
		g.Sim.FailNext(tc.key, http.StatusInternalServerError, 1)
		out := g.Follow(t, g.Browser(t), g.AuthorizeURL(tc.provider, g.NewState(t, tc.provider, "org_a", "user_1")))
		requireConsoleError(t, out, tc.provider, tc.code)
	}
	requireNothingWritten(t, g)
	g.RequireNoSecretsLogged(t)
}

// tamperedCallback runs a flow to the gateway callback, lets edit change its query, then follows it.
func tamperedCallback(t *testing.T, g *gatewaytest.Gateway, p types.Provider, org string, edit func(url.Values)) gatewaytest.Outcome {
	t.Helper()
	browser := g.Browser(t)
	browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		g.Seen.AddURL(req.URL)
		if req.URL.Host == "console.invalid" {
			return http.ErrUseLastResponse
		}
		if strings.HasSuffix(req.URL.Path, "/connections/"+string(p)+"/callback") {
			q := req.URL.Query()
			edit(q)
			req.URL.RawQuery = q.Encode()
		}
		return nil
	}
	return g.Follow(t, browser, g.AuthorizeURL(p, g.NewState(t, p, org, "user_1")))
}

func TestSpoofedGitHubInstallation(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	// Somebody else's installation: the consenting user cannot see it.
	victim := g.Sim.SeedGitHubInstallation(0, "victim-org")
	out := tamperedCallback(t, g, types.GitHub, "org_a", func(q url.Values) {
		q.Set("installation_id", strconv.FormatInt(victim.ID, 10))
	})
	requireErrorPage(t, out, http.StatusForbidden, "installation_not_accessible")
	requireNothingWritten(t, g)
	require.Zero(t, g.Sim.Calls(providersim.KeyGitHubAppInstallation), "nothing is read about an installation not proven")
	require.Zero(t, g.Sim.Calls(providersim.KeyGitHubAccessToken))
}

func TestMalformedCallbacks(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	cases := []struct {
		provider types.Provider
		edit     func(url.Values)
		status   int
		code     string
	}{
		{types.GitHub, func(q url.Values) { q.Del("installation_id") }, http.StatusBadRequest, "missing_parameter"},
		{types.GitHub, func(q url.Values) { q.Set("installation_id", "12abc") }, http.StatusBadRequest, "invalid_parameter"},
		{types.GitHub, func(q url.Values) { q.Del("code") }, http.StatusBadRequest, "missing_parameter"},
		{types.Vercel, func(q url.Values) { q.Del("configurationId") }, http.StatusBadRequest, "missing_parameter"},
		{types.Vercel, func(q url.Values) { q.Set("configurationId", "icfg_someoneelse") }, http.StatusForbidden, "installation_mismatch"},
		{types.Linear, func(q url.Values) { q.Del("code") }, http.StatusBadRequest, "missing_parameter"},
		{types.Sentry, func(q url.Values) { q.Del("installationId") }, http.StatusBadRequest, "missing_parameter"},
	}
	for _, tc := range cases {
		requireErrorPage(t, tamperedCallback(t, g, tc.provider, "org_a", tc.edit), tc.status, tc.code)
	}
	requireNothingWritten(t, g)

	// A code the provider does not know (forged, or already used) goes back to the Console.
	for _, p := range types.Providers {
		out := tamperedCallback(t, g, p, "org_a", func(q url.Values) { q.Set("code", "forged-code") })
		requireConsoleError(t, out, p, "invalid_code")
	}
	requireNothingWritten(t, g)
	g.RequireNoSecretsLogged(t)
}

func TestInstallationClaimedByAnotherOrg(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)

	for _, p := range []types.Provider{types.GitHub, types.Linear} {
		t.Run(string(p), func(t *testing.T) {
			first := g.Connect(t, p, "org_a", "user_1")
			before, err := dbq.New(g.Pool).GetInstallation(ctx, first)
			require.NoError(t, err)
			hooks := len(g.Sim.LinearWebhooks())

			// Same provider account, another org (GitHub reuses the account's installation; Linear the workspace).
			out := g.Follow(t, g.Browser(t), g.AuthorizeURL(p, g.NewState(t, p, "org_b", "user_2")))
			requireConsoleError(t, out, p, "installation_claimed")
			after, err := dbq.New(g.Pool).GetInstallation(ctx, first)
			require.NoError(t, err)
			require.Equal(t, before, after, "the claimed installation is unchanged")
			require.Len(t, g.Sim.LinearWebhooks(), hooks, "no provider-side change for a claimed installation")

			// Once revoked, the other org may reclaim it: same row, new owner, new token.
			resp, _ := gatewaytest.Req(t, http.MethodDelete, g.URL+"/connections/"+string(p)+"/"+first, gatewaytest.APIKey)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			reclaimed := g.Connect(t, p, "org_b", "user_2")
			require.Equal(t, first, reclaimed)
			stored(t, g, reclaimed, "org_b", "user_2")
		})
	}
}

func TestReconnectSameOrgUpdatesInPlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	first := g.Connect(t, types.Linear, "org_a", "user_1")
	_, tok1 := stored(t, g, first, "org_a", "user_1")
	second := g.Connect(t, types.Linear, "org_a", "user_2")
	require.Equal(t, first, second)
	inst, tok2 := stored(t, g, second, "org_a", "user_2")
	require.NotEqual(t, tok1, tok2)
	row, err := dbq.New(g.Pool).GetTokenByInstallation(ctx, first)
	require.NoError(t, err)
	require.EqualValues(t, 2, row.Version, "the token row was rewritten, not duplicated")
	require.Equal(t, 1, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_tokens`))
	hooks := g.Sim.LinearWebhooks()
	require.Len(t, hooks, 1, "the earlier connection's webhook was deleted")
	require.Equal(t, hooks[0].ID, inst.Metadata["linearWebhookId"], "the newest webhook is the one recorded")
	secret, err := g.Keyring.Decrypt(*inst.WebhookSecret, dbvault.WebhookSecretField(inst.ID))
	require.NoError(t, err)
	require.Equal(t, hooks[0].Secret, secret, "and its secret is the stored one")
}
