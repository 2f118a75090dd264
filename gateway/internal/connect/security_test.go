package connect_test

// The connect-flow part of the security suite (README "Security suite"): open redirects through every
// redirect-like parameter, a state that cannot be moved to another org, spoofed installation ids for the
// providers whose callback names one, and a token ciphertext moved to another installation's row.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/securitytest"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

// redirectParams are the query names a redirect target could hide in, on the way in (authorize) and on
// the way back (callback): the ones the SPEC names and the usual aliases.
var redirectParams = []string{"return_to", "returnTo", "next", "redirect_uri", "redirect", "redirect_url", "continue", "url"}

// requireOnlyConsole checks that a response either redirects to exactly CONSOLE_URL/connected with the
// flow's own parameters, or does not redirect at all.
func requireOnlyConsole(t *testing.T, resp *http.Response, evil string) {
	t.Helper()
	loc := resp.Header.Get("Location")
	if loc == "" {
		return
	}
	require.True(t, strings.HasPrefix(loc, gatewaytest.ConsoleURL+"/connected?"), "redirect for %q went to %q", evil, loc)
	u, err := url.Parse(loc)
	require.NoError(t, err)
	require.Equal(t, gatewaytest.ConsoleURL+"/connected", u.Scheme+"://"+u.Host+u.Path, evil)
	require.Empty(t, u.User, evil)
	require.Empty(t, u.Fragment, evil)
	for k := range u.Query() {
		require.Contains(t, []string{"provider", "installationId", "error"}, k, "unexpected parameter in %q", loc)
	}
}

// poisoned returns q with every redirect parameter set to evil.
func poisoned(q url.Values, evil string) url.Values {
	for _, p := range redirectParams {
		q.Set(p, evil)
	}
	return q
}

// TestSecurityNoOpenRedirect runs the connect flow of every provider with an attack target in every
// redirect parameter at once: in the state's return_to column, in the authorize URL and in the callback
// URL. Every redirect the gateway answers with goes either to the provider it is configured for (with
// its own callback as redirect_uri) or to exactly CONSOLE_URL/connected, on success and on failure.
func TestSecurityNoOpenRedirect(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	ctx := context.Background()
	providerWeb := map[types.Provider]string{
		types.GitHub: g.SimURLs.GitHubWeb, types.Vercel: g.SimURLs.VercelWeb,
		types.Linear: g.SimURLs.LinearWeb, types.Sentry: g.SimURLs.Sentry,
	}
	attacks := securitytest.OpenRedirects(gatewaytest.ConsoleURL)
	for _, p := range types.Providers {
		t.Run(string(p), func(t *testing.T) {
			for i, evil := range attacks {
				// Alternate success and a denied consent, so both ways back to the Console are attacked.
				deny := i%3 == 2
				if deny {
					require.NoError(t, g.Sim.QueueConsent(string(p), providersim.Consent{Deny: true}))
				}
				token, err := oauthstate.CreateState(ctx, g.Pool, p, "org_a", "user_1", evil)
				require.NoError(t, err)
				g.Seen.Add(token)

				var hops []*http.Response
				browser := g.Browser(t)
				browser.CheckRedirect = func(req *http.Request, via []*http.Request) error {
					g.Seen.AddURL(req.URL)
					hops = append(hops, req.Response)
					if req.URL.Host == "console.invalid" || len(via) > 10 {
						return http.ErrUseLastResponse
					}
					if strings.HasSuffix(req.URL.Path, "/connections/"+string(p)+"/callback") {
						req.URL.RawQuery = poisoned(req.URL.Query(), evil).Encode()
					}
					return nil
				}
				authorize := g.AuthorizeURL(p, token) + "&" + poisoned(url.Values{}, evil).Encode()
				out := g.Follow(t, browser, authorize)

				require.Equal(t, http.StatusFound, out.Status, out.Body)
				require.Equal(t, gatewaytest.ConsoleURL+"/connected", out.Location.Scheme+"://"+out.Location.Host+out.Location.Path, evil)
				if deny {
					require.Equal(t, "access_denied", out.Error, evil)
				} else {
					require.Empty(t, out.Error, evil)
					require.NotEmpty(t, out.InstallationID, evil)
				}
				// Every gateway redirect on the way: authorize → provider, callback → Console.
				require.Len(t, hops, 3, "authorize, provider consent, callback")
				toProvider := hops[0].Header.Get("Location")
				require.True(t, strings.HasPrefix(toProvider, providerWeb[p]+"/"), "authorize sent %q to %q", evil, toProvider)
				pu, err := url.Parse(toProvider)
				require.NoError(t, err)
				if ru := pu.Query().Get("redirect_uri"); ru != "" {
					require.Equal(t, g.URL+"/connections/"+string(p)+"/callback", ru, evil)
				}
				require.NotContains(t, toProvider, "evil", evil)
				requireOnlyConsole(t, hops[2], evil)
			}
		})
	}

	// A refused callback (bad state) answers with an error page, never a redirect, whatever it carries.
	for _, evil := range attacks[:5] {
		q := poisoned(url.Values{"state": {"unknown-state"}, "code": {"c"}}, evil)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
			Get(g.URL + "/connections/github/callback?" + q.Encode())
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		require.Empty(t, resp.Header.Get("Location"))
	}
	g.RequireNoSecretsLogged(t)
}

// TestSecurityStateIsBoundToItsOrg: the org and user of a connection come only from the state the
// Console created; parameters naming another org anywhere in the flow are ignored, and the state of one
// provider, once consumed or for another provider, cannot be used again (see TestBadStates for the
// missing / reused / expired / other-provider answers).
func TestSecurityStateIsBoundToItsOrg(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	inject := url.Values{
		"org_id": {"org_b"}, "orgId": {"org_b"}, "org": {"org_b"}, "clerk_org_id": {"org_b"},
		"connected_by": {"user_b"}, "user_id": {"user_b"}, "userId": {"user_b"},
	}
	for _, p := range types.Providers {
		token := g.NewState(t, p, "org_a", "user_1")
		browser := g.Browser(t)
		browser.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			g.Seen.AddURL(req.URL)
			if req.URL.Host == "console.invalid" {
				return http.ErrUseLastResponse
			}
			if strings.HasSuffix(req.URL.Path, "/callback") {
				q := req.URL.Query()
				for k, v := range inject {
					q[k] = v
				}
				req.URL.RawQuery = q.Encode()
			}
			return nil
		}
		out := g.Follow(t, browser, g.AuthorizeURL(p, token)+"&"+inject.Encode())
		require.Empty(t, out.Error, p)
		inst, err := dbq.New(g.Pool).GetInstallation(ctx, out.InstallationID)
		require.NoError(t, err)
		require.Equal(t, "org_a", inst.OrgID, p)
		require.Equal(t, "user_1", inst.ConnectedBy, p)
	}
	require.Zero(t, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_installations WHERE org_id <> 'org_a'`))
}

// TestSecuritySpoofedInstallationIDs covers the callbacks that name an installation besides GitHub's
// (TestSpoofedGitHubInstallation): a Sentry installationId swapped for another org's installation does
// not get its token, and the organization slug and Vercel team are taken from the provider, never from
// the callback's query.
func TestSecuritySpoofedInstallationIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)

	victim := g.Connect(t, types.Sentry, "org_victim", "user_v")
	victimRow, err := dbq.New(g.Pool).GetInstallation(ctx, victim)
	require.NoError(t, err)
	victimToken, err := dbq.New(g.Pool).GetTokenByInstallation(ctx, victim)
	require.NoError(t, err)

	out := tamperedCallback(t, g, types.Sentry, "org_attacker", func(q url.Values) { q.Set("installationId", victimRow.ExternalID) })
	requireConsoleError(t, out, types.Sentry, "invalid_code")
	after, err := dbq.New(g.Pool).GetInstallation(ctx, victim)
	require.NoError(t, err)
	require.Equal(t, victimRow, after, "the victim's installation is untouched")
	afterToken, err := dbq.New(g.Pool).GetTokenByInstallation(ctx, victim)
	require.NoError(t, err)
	require.Equal(t, victimToken, afterToken)
	require.Zero(t, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_installations WHERE org_id = 'org_attacker'`))

	out = tamperedCallback(t, g, types.Sentry, "org_a", func(q url.Values) { q.Set("orgSlug", "victim-org") })
	require.Empty(t, out.Error)
	inst, err := dbq.New(g.Pool).GetInstallation(ctx, out.InstallationID)
	require.NoError(t, err)
	require.NotEqual(t, "victim-org", inst.ProviderAccountInfo.Sentry.OrgSlug)
	require.NotEqual(t, "victim-org", *inst.AccountLogin)

	out = tamperedCallback(t, g, types.Vercel, "org_a", func(q url.Values) { q.Set("teamId", "team_victim") })
	require.Empty(t, out.Error)
	inst, err = dbq.New(g.Pool).GetInstallation(ctx, out.InstallationID)
	require.NoError(t, err)
	require.Equal(t, g.Sim.Config().VercelTeamID, inst.ProviderAccountInfo.Vercel.TeamID)
	g.RequireNoSecretsLogged(t)
}
