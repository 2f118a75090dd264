package connect_test

// The security suite's tests of SPEC §5.1 "A connection belongs to the browser, the person and the org
// that started it" (README "Security suite"): each attack of issue 14 on the real HTTP path of the
// gateway, against the provider simulator.

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/pending"
	"github.com/lightfastai/connections/db/teardown"
	"github.com/lightfastai/connections/db/types"
	dbvault "github.com/lightfastai/connections/db/vault"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

// revokeKeys are the simulator endpoints a provider revoke calls; GitHub App installations stay
// installed (their tokens lapse), so GitHub has none.
var revokeKeys = map[types.Provider]string{
	types.Vercel: providersim.KeyVercelConfigDelete,
	types.Linear: providersim.KeyLinearRevoke,
	types.Sentry: providersim.KeySentryInstallDelete,
}

// tokenCalls are the simulator endpoints that hand out a provider's tokens in a callback.
var tokenCalls = map[types.Provider]string{
	types.GitHub: providersim.KeyGitHubOAuthToken,
	types.Vercel: providersim.KeyVercelOAuthToken,
	types.Linear: providersim.KeyLinearOAuthToken,
	types.Sentry: providersim.KeySentryAuthorizations,
}

// toCallback runs a flow for a new state of org in a fresh browser up to the gateway callback and returns
// the callback URL (with the provider's code), the state and the browser (which holds the state cookie).
func toCallback(t *testing.T, g *gatewaytest.Gateway, p types.Provider, org, user string) (string, string, *http.Client) {
	t.Helper()
	state := g.NewState(t, p, org, user)
	var callback string
	browser := g.Browser(t)
	browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		g.Seen.AddURL(req.URL)
		if strings.HasSuffix(req.URL.Path, "/connections/"+string(p)+"/callback") {
			callback = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}
	g.Follow(t, browser, g.AuthorizeURL(p, state))
	require.NotEmpty(t, callback)
	return callback, state, browser
}

// authorizeOnly sends a fresh browser through authorize for a new state of org and stops before the
// provider: the browser now holds that state's cookie, as a user in the middle of connecting does.
func authorizeOnly(t *testing.T, g *gatewaytest.Gateway, p types.Provider, org, user string) (string, *http.Client) {
	t.Helper()
	state := g.NewState(t, p, org, user)
	browser := g.Browser(t)
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	out := g.Follow(t, browser, g.AuthorizeURL(p, state))
	require.Equal(t, http.StatusFound, out.Status, out.Body)
	browser.CheckRedirect = g.Browser(t).CheckRedirect
	return state, browser
}

func withQuery(t *testing.T, raw string, edit func(url.Values)) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	q := u.Query()
	edit(q)
	u.RawQuery = q.Encode()
	return u.String()
}

func requireStateUnused(t *testing.T, g *gatewaytest.Gateway, p types.Provider, state string) {
	t.Helper()
	_, err := oauthstate.Peek(context.Background(), g.Pool, p, state)
	require.NoError(t, err, "the refused callback used up no state")
}

// Attack 1: GitHub lists an installation in /user/installations for anyone with access to one of its
// repositories. Only an owner of the organization (active membership, role admin), or the user whose
// own account it is, may connect it.
func TestSecurityGitHubNeedsAnAdminOfTheAccount(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	victim := g.Sim.SeedGitHubInstallation(0, "victim-org", "owner", "mallory", "member-mo", "invited-ivy")
	require.Equal(t, "Organization", victim.Account.Type)
	alice := g.Sim.SeedGitHubInstallation(0, "alice", "alice", "mallory")
	require.Equal(t, "User", alice.Account.Type, "an installation on a user's own account")
	for _, m := range []providersim.GitHubMembership{
		{Org: "victim-org", User: "owner", Role: "admin", State: "active"},
		{Org: "victim-org", User: "member-mo", Role: "member", State: "active"},
		{Org: "victim-org", User: "invited-ivy", Role: "admin", State: "pending"},
	} {
		require.NoError(t, g.Sim.SetGitHubMembership(m))
	}

	refused := map[string]struct {
		user         string
		installation int64
	}{
		"outside collaborator":          {"mallory", victim.ID},
		"member who is not an admin":    {"member-mo", victim.ID},
		"admin invitation not accepted": {"invited-ivy", victim.ID},
		"someone else's user account":   {"mallory", alice.ID},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, g.Sim.QueueConsent(providersim.ProviderGitHub, providersim.Consent{
				User: tc.user, InstallationID: strconv.FormatInt(tc.installation, 10),
			}))
			minted := g.Sim.Calls(providersim.KeyGitHubAccessToken)
			out := g.Follow(t, g.Browser(t), g.AuthorizeURL(types.GitHub, g.NewState(t, types.GitHub, "org_attacker", "user_attacker")))
			requireConsoleError(t, out, types.GitHub, "installation_not_admin")
			requireNothingWritten(t, g)
			require.Equal(t, minted, g.Sim.Calls(providersim.KeyGitHubAccessToken), "no installation token was minted")
		})
	}
	require.Equal(t, 3, g.Sim.Calls(providersim.KeyGitHubOrgMembership), "the organization's membership was asked for each org case")
	require.Equal(t, 1, g.Sim.Calls(providersim.KeyGitHubUser), "the user was asked for the user-account case")

	// The owner of the organization, and a user installing on their own account, connect.
	require.NoError(t, g.Sim.QueueConsent(providersim.ProviderGitHub, providersim.Consent{User: "owner", InstallationID: strconv.FormatInt(victim.ID, 10)}))
	id := g.Connect(t, types.GitHub, "org_victim", "user_owner")
	inst, _ := stored(t, g, id, "org_victim", "user_owner")
	require.Equal(t, strconv.FormatInt(victim.ID, 10), inst.ExternalID)
	require.NoError(t, g.Sim.QueueConsent(providersim.ProviderGitHub, providersim.Consent{User: "alice", InstallationID: strconv.FormatInt(alice.ID, 10)}))
	id = g.Connect(t, types.GitHub, "org_alice", "user_alice")
	inst, _ = stored(t, g, id, "org_alice", "user_alice")
	require.Equal(t, "alice", *inst.AccountLogin)
	g.RequireNoSecretsLogged(t)
}

// Attack 3 and its relatives: a callback must come from the browser that started the flow. Another
// browser (no state cookie) is refused; so is a callback whose echoed state is not the cookie's, or
// which echoes none where the provider always does — even while the victim's browser holds a cookie of
// its own flow. Nothing is written, no code is exchanged and no state is used up.
func TestSecurityCallbackNeedsTheStateCookie(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	for _, p := range types.Providers {
		t.Run(string(p), func(t *testing.T) {
			// The attacker's own flow, up to the callback with the attacker's code.
			callback, attackerState, _ := toCallback(t, g, p, "org_attacker", "user_attacker")
			exchanges := g.Sim.Calls(tokenCalls[p])

			// Sent to a browser that never started a flow.
			out := g.Follow(t, g.Browser(t), callback)
			requireErrorPage(t, out, http.StatusBadRequest, "invalid_state")
			requireStateUnused(t, g, p, attackerState)

			// Sent to a victim in the middle of connecting: the victim's browser holds its own cookie.
			victimState, victim := authorizeOnly(t, g, p, "org_victim", "user_victim")
			if p != types.Sentry {
				out = g.Follow(t, victim, callback)
				requireErrorPage(t, out, http.StatusBadRequest, "invalid_state")
				// The cookie never stands in for a state the provider always echoes.
				out = g.Follow(t, victim, withQuery(t, callback, func(q url.Values) { q.Del("state") }))
				requireErrorPage(t, out, http.StatusBadRequest, "missing_state")
			} else {
				// Sentry echoes no state and uses the cookie alone; a state in its callback must still match.
				out = g.Follow(t, victim, callback)
				requireErrorPage(t, out, http.StatusBadRequest, "invalid_state")
			}
			requireStateUnused(t, g, p, victimState)
			requireStateUnused(t, g, p, attackerState)
			require.Equal(t, exchanges, g.Sim.Calls(tokenCalls[p]), "no code was exchanged")
			requireNothingWritten(t, g)
		})
	}
	g.RequireNoSecretsLogged(t)
}

// A browser refused a connect step gets an HTML page saying so, with a link (never a redirect) back to
// the Console's /connected page, which explains the code.
func TestRefusalPageForBrowsers(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	callback, _, _ := toCallback(t, g, types.Linear, "org_a", "user_1")
	req, err := http.NewRequest(http.MethodGet, callback, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body strings.Builder
	_, _ = io.Copy(&body, resp.Body)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Location"))
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
	require.Contains(t, body.String(), `<code id="code">invalid_state</code>`)
	require.Contains(t, body.String(), `href="`+gatewaytest.ConsoleURL+`/connected?error=invalid_state&amp;provider=linear"`)
	requireNothingWritten(t, g)
}

// Attack 4: only a revoked installation may move to another org. One pending, active or in error in
// another org is installation_claimed, and the first org's integrations on it stay as they were.
func TestSecurityOnlyARevokedInstallationChangesOrg(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	for _, p := range []types.Provider{types.GitHub, types.Linear} {
		t.Run(string(p), func(t *testing.T) {
			id := g.ConnectPending(t, p, "org_a", "user_1")
			// Pending in org_a: not claimable.
			out := g.Follow(t, g.Browser(t), g.AuthorizeURL(p, g.NewState(t, p, "org_b", "user_2")))
			requireConsoleError(t, out, p, "installation_claimed")

			require.Equal(t, pending.Confirmed, g.Confirm(t, id, "org_a", "user_1").Outcome)
			inst, err := dbq.New(g.Pool).GetInstallation(ctx, id)
			require.NoError(t, err)
			integ := linkResource(t, g, inst, "res-error-"+string(p))
			// The token was refused for good: the installation is in error, its integration still active.
			reason := dbvault.StatusReasonReauthRequired
			_, err = dbq.New(g.Pool).SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: id, Status: types.InstallationError, StatusReason: &reason})
			require.NoError(t, err)
			before, err := dbq.New(g.Pool).GetInstallation(ctx, id)
			require.NoError(t, err)
			tokenBefore, err := dbq.New(g.Pool).GetTokenByInstallation(ctx, id)
			require.NoError(t, err)

			out = g.Follow(t, g.Browser(t), g.AuthorizeURL(p, g.NewState(t, p, "org_b", "user_2")))
			requireConsoleError(t, out, p, "installation_claimed")
			after, err := dbq.New(g.Pool).GetInstallation(ctx, id)
			require.NoError(t, err)
			require.Equal(t, before, after, "the errored installation stays org_a's")
			tokenAfter, err := dbq.New(g.Pool).GetTokenByInstallation(ctx, id)
			require.NoError(t, err)
			require.Equal(t, tokenBefore, tokenAfter)
			gotInteg, err := dbq.New(g.Pool).GetIntegration(ctx, integ.ID)
			require.NoError(t, err)
			require.True(t, gotInteg.IsActive)
			require.Zero(t, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_installations WHERE org_id = 'org_b'`))

			// org_a itself reconnects it (the Reconnect of an errored connection).
			require.Equal(t, id, g.Connect(t, p, "org_a", "user_1"))
		})
	}
}

// Integrations of an org the installation has left are never read through it: every query that joins
// integrations to an installation matches the org too.
func TestSecurityIntegrationsOfAnotherOrgAreNotJoined(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	id := g.Connect(t, types.Linear, "org_b", "user_2")
	inst, err := dbq.New(g.Pool).GetInstallation(ctx, id)
	require.NoError(t, err)
	mine := linkResource(t, g, inst, "team-1")
	// A row of org_a on the same installation, as a takeover before this fix could leave behind.
	ws, err := dbq.New(g.Pool).CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: "org_a", Name: "old", Slug: "old"})
	require.NoError(t, err)
	var stale string
	require.NoError(t, g.Pool.QueryRow(ctx, `INSERT INTO lightfast_workspace_integrations
		(id, workspace_id, installation_id, provider, provider_resource_id, resource_name) VALUES ($1, $2, $3, 'linear', 'team-1', 'old')
		RETURNING id`, ids.New(), ws.ID, id).Scan(&stale))

	q := dbq.New(g.Pool)
	active, err := q.ListActiveIntegrationsForResource(ctx, dbq.ListActiveIntegrationsForResourceParams{InstallationID: id, ProviderResourceID: "team-1"})
	require.NoError(t, err)
	require.Len(t, active, 1)
	require.Equal(t, mine.ID, active[0].ID)
	batch, err := q.ListActiveIntegrationsForResources(ctx, dbq.ListActiveIntegrationsForResourcesParams{InstallationIds: []string{id}, ResourceIds: []string{"team-1"}})
	require.NoError(t, err)
	require.Len(t, batch, 1)
	require.Equal(t, mine.ID, batch[0].ID)
	all, err := q.ListIntegrationsForResource(ctx, dbq.ListIntegrationsForResourceParams{InstallationID: id, ProviderResourceID: "team-1"})
	require.NoError(t, err)
	require.Len(t, all, 1)
	n, err := q.CountActiveIntegrationsForResource(ctx, dbq.CountActiveIntegrationsForResourceParams{InstallationID: id, ProviderResourceID: "team-1"})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	// The workers' token read goes through the integration: org_a's gets nothing.
	_, err = dbvault.GetForIntegration(ctx, g.Pool, g.Keyring, stale)
	require.ErrorIs(t, err, dbvault.ErrNotFound)
	_, err = dbvault.GetForIntegration(ctx, g.Pool, g.Keyring, mine.ID)
	require.NoError(t, err)
	// And org_a cannot link through it.
	_, err = q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: ws.ID, InstallationID: id, Provider: types.Linear, ProviderResourceID: "team-2",
		ResourceName: "t2", SyncConfig: types.DefaultSyncConfig(types.Linear),
	})
	require.True(t, db.IsNotFound(err), "link across orgs: %v", err)
}

// Attack 2: a connect link sent to someone else. The state binds the flow to the org and user that
// made it; whoever completes it in their own session cannot confirm it, and their refusal removes the
// pending connection and revokes it at the provider. The one who made the link cannot confirm it either
// once it has been refused.
func TestSecurityConnectLinkCompletedBySomeoneElse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	g.RunWorkers(t)
	for _, p := range types.Providers {
		t.Run(string(p), func(t *testing.T) {
			// The attacker made the link; the victim follows it in their browser and consents.
			id := g.ConnectPending(t, p, "org_attacker", "user_attacker")
			inst, err := dbq.New(g.Pool).GetInstallation(ctx, id)
			require.NoError(t, err)
			require.Equal(t, types.InstallationPending, inst.Status)
			require.NotNil(t, inst.PendingExpiresAt)
			revokes := 0
			if k := revokeKeys[p]; k != "" {
				revokes = g.Sim.Calls(k)
			}

			// The victim's /connected page confirms under the victim's session (another org), or a colleague's
			// (the same org, another user): refused, and removed.
			who := map[types.Provider][2]string{
				types.GitHub: {"org_victim", "user_victim"}, types.Vercel: {"org_victim", "user_victim"},
				types.Linear: {"org_attacker", "user_colleague"}, types.Sentry: {"org_attacker", "user_colleague"},
			}[p]
			res := g.Confirm(t, id, who[0], who[1])
			require.Equal(t, pending.Refused, res.Outcome)
			require.Equal(t, types.InstallationRevoked, res.Installation.Status)
			require.Equal(t, teardown.ReasonUnconfirmed, *res.Installation.StatusReason)
			require.Equal(t, pending.NotFound, g.Confirm(t, id, "org_attacker", "user_attacker").Outcome, "nothing left to confirm")

			// The gateway's installation.revoke job revokes the grant at the provider and deletes the row.
			if k := revokeKeys[p]; k != "" {
				require.Eventually(t, func() bool { return g.Sim.Calls(k) == revokes+1 }, 30*time.Second, 20*time.Millisecond,
					"the provider revoke was called")
			}
			require.Eventually(t, func() bool {
				return gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_installations WHERE id = $1`, id) == 0
			}, 30*time.Second, 20*time.Millisecond, "the unconfirmed installation is gone")
			require.Zero(t, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_tokens WHERE installation_id = $1`, id))
			_, src, err := g.Routes.ResolveInstallation(ctx, p, inst.ExternalID)
			require.NoError(t, err)
			require.Equal(t, "none", string(src))
		})
	}
	g.RequireNoSecretsLogged(t)
}

// A pending connection is not routed and its token is not handed out; confirming routes it.
func TestPendingInstallationIsNotUsable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	id := g.ConnectPending(t, types.Sentry, "org_a", "user_1")
	inst, err := dbq.New(g.Pool).GetInstallation(ctx, id)
	require.NoError(t, err)
	_, src, err := g.Routes.ResolveInstallation(ctx, types.Sentry, inst.ExternalID)
	require.NoError(t, err)
	require.Equal(t, "none", string(src), "webhooks of a pending installation are not routed")
	_, err = dbvault.Get(ctx, g.Pool, g.Keyring, id)
	require.ErrorIs(t, err, dbvault.ErrNotActive)
	resp, _ := gatewaytest.Req(t, http.MethodGet, g.URL+"/connections/"+id+"/token", gatewaytest.APIKey)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	require.Equal(t, pending.Confirmed, g.Confirm(t, id, "org_a", "user_1").Outcome)
	got, src, err := g.Routes.ResolveInstallation(ctx, types.Sentry, inst.ExternalID)
	require.NoError(t, err)
	require.Equal(t, id, got)
	require.Equal(t, "cache", string(src), "confirming put the route in the cache")
	stored(t, g, id, "org_a", "user_1")
	// Confirming again (a reloaded page) is a success that changes nothing.
	require.Equal(t, pending.AlreadyActive, g.Confirm(t, id, "org_a", "user_1").Outcome)
	// Somebody else "confirming" an active connection learns nothing and changes nothing.
	require.Equal(t, pending.NotFound, g.Confirm(t, id, "org_b", "user_1").Outcome)
	stored(t, g, id, "org_a", "user_1")
}

// Pending connections nobody confirmed within pending.TTL are removed by the gateway's sweep, the same
// way as a refused one; a late confirmation is refused.
func TestUnconfirmedConnectionsExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	late := g.ConnectPending(t, types.Linear, "org_a", "user_1")
	_, err := g.Pool.Exec(ctx, `UPDATE lightfast_gw_installations SET pending_expires_at = now() - interval '1 second' WHERE id = $1`, late)
	require.NoError(t, err)
	require.Equal(t, pending.Refused, g.Confirm(t, late, "org_a", "user_1").Outcome, "too late to confirm")

	abandoned := g.ConnectPending(t, types.Vercel, "org_a", "user_1")
	fresh := g.ConnectPending(t, types.Sentry, "org_a", "user_1")
	_, err = g.Pool.Exec(ctx, `UPDATE lightfast_gw_installations SET pending_expires_at = now() - interval '1 second' WHERE id = $1`, abandoned)
	require.NoError(t, err)
	deletes := g.Sim.Calls(providersim.KeyVercelConfigDelete)
	g.RunWorkers(t) // the sweep runs at start
	require.Eventually(t, func() bool { return g.Sim.Calls(providersim.KeyVercelConfigDelete) == deletes+1 }, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		return gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_installations WHERE id = ANY($1)`, []string{late, abandoned}) == 0
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, 1, g.Sim.Calls(providersim.KeyLinearRevoke), "the late one was revoked too")
	require.Equal(t, pending.Confirmed, g.Confirm(t, fresh, "org_a", "user_1").Outcome, "one within its deadline is left alone")
}

// The Console's Disconnect tears down with db/teardown.RevokeLater in its transaction; the gateway's
// installation.revoke job then revokes at the provider and deletes the token. (The Console side, over
// its API, is console/internal/api TestDisconnect…; this is the job's side.)
func TestSecurityConsoleDisconnectRevokesAtTheProvider(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	g.RunWorkers(t)
	for _, p := range types.Providers {
		t.Run(string(p), func(t *testing.T) {
			id := g.Connect(t, p, "org_a", "user_1")
			inst, _ := stored(t, g, id, "org_a", "user_1")
			integ := linkResource(t, g, inst, "res-dc-"+string(p))
			revokes := 0
			if k := revokeKeys[p]; k != "" {
				revokes = g.Sim.Calls(k)
			}
			var res teardown.Result
			require.NoError(t, db.WithTx(ctx, g.Pool, func(tx pgx.Tx) error {
				var err error
				res, err = teardown.RevokeLater(ctx, tx, g.Jobs, p, id, teardown.ReasonDisconnected)
				return err
			}))
			teardown.DropRoutes(ctx, g.Routes, res)
			gotInteg, err := dbq.New(g.Pool).GetIntegration(ctx, integ.ID)
			require.NoError(t, err)
			require.False(t, gotInteg.IsActive)
			_, err = dbvault.Get(ctx, g.Pool, g.Keyring, id)
			require.Error(t, err, "the token is unusable from the teardown on")

			if k := revokeKeys[p]; k != "" {
				require.Eventually(t, func() bool { return g.Sim.Calls(k) == revokes+1 }, 30*time.Second, 20*time.Millisecond)
			}
			require.Eventually(t, func() bool {
				return gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_tokens WHERE installation_id = $1`, id) == 0
			}, 30*time.Second, 20*time.Millisecond, "the token is deleted after the provider revoke")
			after, err := dbq.New(g.Pool).GetInstallation(ctx, id)
			require.NoError(t, err, "a disconnected installation keeps its row (its integrations refer to it)")
			require.Equal(t, types.InstallationRevoked, after.Status)
			require.Equal(t, teardown.ReasonDisconnected, *after.StatusReason)
		})
	}
	g.RequireNoSecretsLogged(t)
}

// The revoke job does not touch a connection made again since its teardown, and retries a provider
// outage.
func TestRevokeJobSparesAReconnectionAndRetries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	id := g.Connect(t, types.Sentry, "org_a", "user_1")
	revokeLater := func() {
		require.NoError(t, db.WithTx(ctx, g.Pool, func(tx pgx.Tx) error {
			_, err := teardown.RevokeLater(ctx, tx, g.Jobs, types.Sentry, id, teardown.ReasonDisconnected)
			return err
		}))
	}
	revokeLater()
	// Connected again before the job ran: the new token is not revoked.
	_, err := g.Pool.Exec(ctx, `UPDATE lightfast_gw_installations SET status = 'active', status_reason = NULL WHERE id = $1`, id)
	require.NoError(t, err)
	g.RunWorkers(t)
	require.Eventually(t, func() bool {
		return gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM river_job WHERE kind = 'installation.revoke' AND state = 'completed'`) == 1
	}, 30*time.Second, 20*time.Millisecond)
	require.Zero(t, g.Sim.Calls(providersim.KeySentryInstallDelete))
	require.Equal(t, 1, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_tokens WHERE installation_id = $1`, id))

	// A provider outage is retried (River's backoff); the token goes once the revoke went through.
	g.Sim.FailNext(providersim.KeySentryInstallDelete, http.StatusBadGateway, 1)
	revokeLater()
	require.Eventually(t, func() bool {
		return gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_tokens WHERE installation_id = $1`, id) == 0
	}, 30*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		return gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM river_job WHERE kind = 'installation.revoke' AND attempt = 2
			AND state = 'completed' AND errors[1]->>'error' LIKE '%status 502%'`) == 1
	}, 30*time.Second, 20*time.Millisecond, "the failed attempt was retried")
	require.Equal(t, 2, g.Sim.Calls(providersim.KeySentryInstallDelete))
}
