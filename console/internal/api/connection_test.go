package api_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/db/vault"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

func TestGetAuthorizeURLWritesASingleUseState(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.as(token(t, "user_1", "org_a", "member"))

	returnTo := "/sources?ws=abc"
	resp, err := c.conn.GetAuthorizeURL(ctx, connect.NewRequest(&consolev1.GetAuthorizeURLRequest{
		Provider: consolev1.Provider_PROVIDER_LINEAR, ReturnTo: &returnTo,
	}))
	require.NoError(t, err)
	u, err := url.Parse(resp.Msg.GetAuthorizeUrl())
	require.NoError(t, err)
	require.Equal(t, gatewayURL+"/connections/linear/authorize", u.Scheme+"://"+u.Host+u.Path)
	require.Equal(t, []string{"state"}, keys(u.Query()), "only the opaque state travels: no org or user id")
	require.NotContains(t, resp.Msg.GetAuthorizeUrl(), "org_a")
	require.NotContains(t, resp.Msg.GetAuthorizeUrl(), "user_1")
	require.WithinDuration(t, time.Now().Add(oauthstate.TTL), resp.Msg.GetExpiresAt().AsTime(), 5*time.Second)

	st, err := oauthstate.Peek(ctx, e.pool, types.Linear, u.Query().Get("state"))
	require.NoError(t, err)
	require.Equal(t, "org_a", st.OrgID)
	require.Equal(t, "user_1", st.UserID)
	require.Equal(t, returnTo, st.ReturnTo)
	require.NotEmpty(t, st.CodeVerifier.Reveal(), "linear flows carry a PKCE verifier")

	var stored string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT state_hash FROM lightfast_gw_oauth_states`).Scan(&stored))
	require.Equal(t, oauthstate.Hash(u.Query().Get("state")), stored, "only the hash is stored")
}

func keys(v url.Values) []string {
	var out []string
	for k := range v {
		out = append(out, k)
	}
	return out
}

func TestGetAuthorizeURLBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	before := e.snapshot()
	_, err := c.conn.GetAuthorizeURL(ctx, connect.NewRequest(&consolev1.GetAuthorizeURLRequest{}))
	requireCode(t, err, connect.CodeInvalidArgument)
	_, err = c.conn.GetAuthorizeURL(ctx, connect.NewRequest(&consolev1.GetAuthorizeURLRequest{Provider: consolev1.Provider(42)}))
	requireCode(t, err, connect.CodeInvalidArgument)
	for _, rt := range []string{"https://evil.test/x", "//evil.test", "/\\evil.test", "sources", "", "/a\nb", "/" + strings.Repeat("a", 3000)} {
		_, err = c.conn.GetAuthorizeURL(ctx, connect.NewRequest(&consolev1.GetAuthorizeURLRequest{Provider: consolev1.Provider_PROVIDER_GITHUB, ReturnTo: &rt}))
		requireCode(t, err, connect.CodeInvalidArgument)
	}
	require.Equal(t, before, e.snapshot())
}

func TestListAndGetConnections(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	gh := e.installation("org_a", types.GitHub, "111", "tok", types.NewGitHubAccountInfo(types.GitHubAccountInfo{
		Installations: []types.GitHubInstallation{{ID: 111, AccountLogin: "acme"}},
	}))
	vcOld := e.installation("org_a", types.Vercel, "icfg_old", "tok", types.NewVercelAccountInfo(types.VercelAccountInfo{ConfigurationID: "icfg_old", TeamID: "team_1"}))
	vcNew := e.installation("org_a", types.Vercel, "icfg_new", "tok", types.NewVercelAccountInfo(types.VercelAccountInfo{ConfigurationID: "icfg_new"}))
	revoked := e.installation("org_a", types.Linear, "lin_1", "tok", nil)
	_, err := e.q.SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: revoked.ID, Status: "revoked"})
	require.NoError(t, err)
	e.installation("org_b", types.Sentry, "se_1", "tok", nil)
	name := "acme/web"
	_, err = e.q.UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: gh.ID, ProviderResourceID: "9", ResourceName: &name})
	require.NoError(t, err)

	all, err := c.conn.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	require.NoError(t, err)
	require.Len(t, all.Msg.GetConnections(), 3, "active ones of this org only (not the revoked one)")

	onlyVercel, err := c.conn.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{Provider: consolev1.Provider_PROVIDER_VERCEL}))
	require.NoError(t, err)
	require.Len(t, onlyVercel.Msg.GetConnections(), 2)
	require.Equal(t, "team_1", onlyVercel.Msg.GetConnections()[0].GetVercel().GetTeamId())

	byProvider, err := c.conn.GetConnection(ctx, connect.NewRequest(&consolev1.GetConnectionRequest{Connection: &consolev1.GetConnectionRequest_Provider{Provider: consolev1.Provider_PROVIDER_VERCEL}}))
	require.NoError(t, err)
	require.Equal(t, vcNew.ID, byProvider.Msg.GetConnection().GetInstallationId(), "the most recent one")
	_ = vcOld

	byID, err := c.conn.GetConnection(ctx, connect.NewRequest(&consolev1.GetConnectionRequest{Connection: &consolev1.GetConnectionRequest_InstallationId{InstallationId: gh.ID}}))
	require.NoError(t, err)
	conn := byID.Msg.GetConnection()
	require.Equal(t, consolev1.Provider_PROVIDER_GITHUB, conn.GetProvider())
	require.Equal(t, consolev1.ConnectionStatus_CONNECTION_STATUS_ACTIVE, conn.GetStatus())
	require.Equal(t, "acme", conn.GetGithub().GetInstallations()[0].GetAccountLogin())
	require.Len(t, byID.Msg.GetResources(), 1)
	require.Equal(t, "acme/web", byID.Msg.GetResources()[0].GetResourceName())

	_, err = c.conn.GetConnection(ctx, connect.NewRequest(&consolev1.GetConnectionRequest{Connection: &consolev1.GetConnectionRequest_Provider{Provider: consolev1.Provider_PROVIDER_SENTRY}}))
	requireCode(t, err, connect.CodeNotFound)
	_, err = c.conn.GetConnection(ctx, connect.NewRequest(&consolev1.GetConnectionRequest{}))
	requireCode(t, err, connect.CodeInvalidArgument)
	_, err = c.conn.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{Provider: consolev1.Provider(9)}))
	requireCode(t, err, connect.CodeInvalidArgument)
}

func TestDisconnectCascadesAndNeedsAdmin(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	inst := e.installation("org_a", types.GitHub, "222", "tok", nil)
	ws := e.workspace("org_a", "w")
	name := "acme/api"
	_, err := e.q.UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: inst.ID, ProviderResourceID: "77", ResourceName: &name})
	require.NoError(t, err)
	integ, err := e.q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: ws.ID, InstallationID: inst.ID, Provider: types.GitHub, ProviderResourceID: "77",
		ResourceName: name, SyncConfig: types.DefaultSyncConfig(types.GitHub),
	})
	require.NoError(t, err)
	e.cache.PutInstallation(ctx, types.GitHub, "222", inst.ID)
	e.cache.PutResource(ctx, types.GitHub, "77", inst.ID)

	before := e.snapshot()
	member := e.as(token(t, "user_m", "org_a", "member"))
	_, err = member.conn.Disconnect(ctx, connect.NewRequest(&consolev1.DisconnectRequest{InstallationId: inst.ID}))
	requireCode(t, err, connect.CodePermissionDenied)
	_, err = e.admin("org_a").conn.Disconnect(ctx, connect.NewRequest(&consolev1.DisconnectRequest{}))
	requireCode(t, err, connect.CodeInvalidArgument)
	require.Equal(t, before, e.snapshot(), "refused calls change nothing")

	_, err = e.admin("org_a").conn.Disconnect(ctx, connect.NewRequest(&consolev1.DisconnectRequest{InstallationId: inst.ID}))
	require.NoError(t, err)

	got, err := e.q.GetInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, "revoked", got.Status)
	// The provider revoke is the Gateway's installation.revoke job, enqueued in the same transaction; it
	// deletes the token once the provider has revoked it. Until then the token is unusable.
	require.Equal(t, []string{inst.ID}, e.revokeJobs())
	_, err = vault.GetForOrg(ctx, e.pool, e.kr, "org_a", inst.ID)
	require.ErrorIs(t, err, vault.ErrNotActive)
	res, err := e.q.ListResourcesByInstallation(ctx, inst.ID)
	require.NoError(t, err)
	require.Equal(t, "removed", res[0].Status)
	gotInteg, err := e.q.GetIntegration(ctx, integ.ID)
	require.NoError(t, err)
	require.False(t, gotInteg.IsActive)
	for _, resolve := range []func() (string, routing.Source, error){
		func() (string, routing.Source, error) { return e.cache.ResolveResource(ctx, types.GitHub, "77") },
		func() (string, routing.Source, error) { return e.cache.ResolveInstallation(ctx, types.GitHub, "222") },
	} {
		_, src, err := resolve()
		require.NoError(t, err)
		require.Equal(t, routing.NotFound, src, "cache dropped and the DB no longer routes it")
	}

	list, err := e.admin("org_a").conn.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	require.NoError(t, err)
	require.Empty(t, list.Msg.GetConnections())

	// Disconnecting again is harmless, and revokes nothing twice.
	_, err = e.admin("org_a").conn.Disconnect(ctx, connect.NewRequest(&consolev1.DisconnectRequest{InstallationId: inst.ID}))
	require.NoError(t, err)
	require.Equal(t, []string{inst.ID}, e.revokeJobs())
}

// TestSecurityConfirmConnectionOnlyForWhoStartedIt: the pending connection a callback leaves is
// activated only by the user, in the organisation, whose state the callback consumed. Anyone else gets
// NotFound, and the pending connection is removed with its provider revoke enqueued for the Gateway; so is
// one confirmed after its deadline. Until confirmed it is invisible to the organisation.
func TestSecurityConfirmConnectionOnlyForWhoStartedIt(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	soon := time.Now().Add(time.Minute)
	owner := e.as(token(t, "user_1", "org_a", "member")) // confirming one's own connection needs no admin role
	confirm := func(c clients, id string) (*consolev1.Connection, error) {
		res, err := c.conn.ConfirmConnection(ctx, connect.NewRequest(&consolev1.ConfirmConnectionRequest{InstallationId: id}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetConnection(), nil
	}
	requireRemoved := func(id string) {
		t.Helper()
		got, err := e.q.GetInstallation(ctx, id)
		require.NoError(t, err)
		require.Equal(t, types.InstallationRevoked, got.Status)
		require.Equal(t, "unconfirmed", *got.StatusReason)
		require.Contains(t, e.revokeJobs(), id, "its provider revoke is enqueued for the Gateway")
		_, err = confirm(owner, id)
		requireCode(t, err, connect.CodeNotFound)
	}

	// Pending: invisible to the organisation, even to its admin.
	stranger := e.pendingInstallation("org_a", "user_1", types.Linear, "lin_1", soon)
	list, err := e.admin("org_a").conn.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	require.NoError(t, err)
	require.Empty(t, list.Msg.GetConnections())
	_, err = e.admin("org_a").conn.GetConnection(ctx, connect.NewRequest(&consolev1.GetConnectionRequest{Connection: &consolev1.GetConnectionRequest_InstallationId{InstallationId: stranger.ID}}))
	requireCode(t, err, connect.CodeNotFound)
	_, err = e.admin("org_a").ln.ListTeams(ctx, connect.NewRequest(&consolev1.ListTeamsRequest{InstallationId: stranger.ID}))
	requireCode(t, err, connect.CodeNotFound)

	// Bad input changes nothing.
	before := e.snapshot()
	for _, id := range []string{"", strings.Repeat("x", 300)} {
		_, err = confirm(owner, id)
		requireCode(t, err, connect.CodeInvalidArgument)
	}
	_, err = confirm(owner, "no-such-installation")
	requireCode(t, err, connect.CodeNotFound)
	_, err = confirm(e.as(""), stranger.ID)
	requireCode(t, err, connect.CodeUnauthenticated)
	_, err = confirm(e.as(token(t, "user_1", "", "")), stranger.ID)
	requireCode(t, err, connect.CodePermissionDenied)
	require.Equal(t, before, e.snapshot())

	// Somebody in another organisation completed the link: NotFound, and the connection is gone.
	_, err = confirm(e.as(token(t, "user_9", "org_b", "admin")), stranger.ID)
	requireCode(t, err, connect.CodeNotFound)
	requireRemoved(stranger.ID)

	// A colleague (same organisation, another user): the same.
	colleague := e.pendingInstallation("org_a", "user_1", types.Sentry, "se_1", soon)
	_, err = confirm(e.as(token(t, "user_2", "org_a", "admin")), colleague.ID)
	requireCode(t, err, connect.CodeNotFound)
	requireRemoved(colleague.ID)

	// Too late: the same.
	late := e.pendingInstallation("org_a", "user_1", types.Vercel, "icfg_late", time.Now().Add(-time.Second))
	_, err = confirm(owner, late.ID)
	requireCode(t, err, connect.CodeNotFound)
	requireRemoved(late.ID)

	// The user who started it, in time: active, routed, listed, and it says which account.
	mine := e.pendingInstallation("org_a", "user_1", types.GitHub, "333", soon)
	conn, err := confirm(owner, mine.ID)
	require.NoError(t, err)
	require.Equal(t, consolev1.ConnectionStatus_CONNECTION_STATUS_ACTIVE, conn.GetStatus())
	require.Equal(t, "login-333", conn.GetAccountLogin())
	require.Equal(t, mine.ID, conn.GetInstallationId())
	got, src, err := e.cache.ResolveInstallation(ctx, types.GitHub, "333")
	require.NoError(t, err)
	require.Equal(t, mine.ID, got)
	require.Equal(t, routing.FromCache, src)
	list, err = e.admin("org_a").conn.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetConnections(), 1)
	// Again (a reloaded page): the same answer. Another user "confirming" it changes nothing.
	again, err := confirm(owner, mine.ID)
	require.NoError(t, err)
	require.Equal(t, conn.GetInstallationId(), again.GetInstallationId())
	before = e.snapshot()
	_, err = confirm(e.as(token(t, "user_2", "org_a", "admin")), mine.ID)
	requireCode(t, err, connect.CodeNotFound)
	require.Equal(t, before, e.snapshot(), "an active connection is never removed by a confirmation")
	require.NotContains(t, e.revokeJobs(), mine.ID)
}

// ListConnections offers Reconnect for a connection in error, with its reason.
func TestListConnectionsShowsThoseInError(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	broken := e.installation("org_a", types.Linear, "lin_err", "tok", nil)
	reason := vault.StatusReasonReauthRequired
	_, err := e.q.SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: broken.ID, Status: types.InstallationError, StatusReason: &reason})
	require.NoError(t, err)
	list, err := e.admin("org_a").conn.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetConnections(), 1)
	require.Equal(t, consolev1.ConnectionStatus_CONNECTION_STATUS_ERROR, list.Msg.GetConnections()[0].GetStatus())
	require.Equal(t, "reauth_required", list.Msg.GetConnections()[0].GetStatusReason())
}
