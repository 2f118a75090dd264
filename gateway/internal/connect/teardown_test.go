package connect_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/types"
	dbvault "github.com/lightfastai/connections/db/vault"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

// linkResource gives an installation a routed resource and an active workspace integration, as the
// Console would.
func linkResource(t *testing.T, g *gatewaytest.Gateway, inst dbq.Installation, resourceID string) dbq.UpsertIntegrationRow {
	t.Helper()
	ctx := context.Background()
	q := dbq.New(g.Pool)
	_, err := q.UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: inst.ID, ProviderResourceID: resourceID})
	require.NoError(t, err)
	ws, err := q.CreateWorkspace(ctx, dbq.CreateWorkspaceParams{ID: ids.New(), ClerkOrgID: inst.OrgID, Name: "W " + resourceID, Slug: "w-" + resourceID})
	require.NoError(t, err)
	integ, err := q.UpsertIntegration(ctx, dbq.UpsertIntegrationParams{
		ID: ids.New(), WorkspaceID: ws.ID, InstallationID: inst.ID, Provider: inst.Provider,
		ProviderResourceID: resourceID, ResourceName: "res " + resourceID, SyncConfig: types.DefaultSyncConfig(inst.Provider),
	})
	require.NoError(t, err)
	g.Routes.PutResource(ctx, inst.Provider, resourceID, inst.ID)
	return integ
}

func TestTeardown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	for _, tc := range []struct {
		provider  types.Provider
		revokeKey string // the provider call teardown makes ("" for none)
	}{
		{types.GitHub, ""},
		{types.Vercel, providersim.KeyVercelConfigDelete},
		{types.Linear, providersim.KeyLinearRevoke},
		{types.Sentry, providersim.KeySentryInstallDelete},
	} {
		t.Run(string(tc.provider), func(t *testing.T) {
			p := tc.provider
			id := g.Connect(t, p, "org_a", "user_1")
			inst, _ := stored(t, g, id, "org_a", "user_1")
			integ := linkResource(t, g, inst, "res-"+string(p))
			// The callback routed the installation; resolve the resource once so both routes are cached.
			_, src, err := g.Routes.ResolveInstallation(ctx, p, inst.ExternalID)
			require.NoError(t, err)
			require.Equal(t, "cache", string(src))

			url := g.URL + "/connections/" + string(p) + "/" + id
			// Bad inputs first: nothing changes.
			for _, bad := range []struct {
				url, key string
				status   int
				code     string
			}{
				{url, "", http.StatusUnauthorized, "unauthorized"},
				{url, "wrong-key", http.StatusUnauthorized, "unauthorized"},
				{g.URL + "/connections/" + string(p) + "/no-such-id", gatewaytest.APIKey, http.StatusNotFound, "not_found"},
				{g.URL + "/connections/" + string(otherProvider(p)) + "/" + id, gatewaytest.APIKey, http.StatusNotFound, "not_found"},
			} {
				resp, body := gatewaytest.Req(t, http.MethodDelete, bad.url, bad.key)
				require.Equal(t, bad.status, resp.StatusCode, body)
				require.Contains(t, body, `"code":"`+bad.code+`"`)
			}
			still, err := dbq.New(g.Pool).GetInstallation(ctx, id)
			require.NoError(t, err)
			require.Equal(t, "active", still.Status)

			calls := 0
			if tc.revokeKey != "" {
				calls = g.Sim.Calls(tc.revokeKey)
			}
			resp, body := gatewaytest.Req(t, http.MethodDelete, url, gatewaytest.APIKey2)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			var answer map[string]any
			require.NoError(t, json.Unmarshal([]byte(body), &answer))
			require.Equal(t, map[string]any{"id": id, "provider": string(p), "status": "revoked", "integrationsDeactivated": float64(1)}, answer)
			if tc.revokeKey != "" {
				require.Equal(t, calls+1, g.Sim.Calls(tc.revokeKey), "best-effort revoke at the provider")
			}

			after, err := dbq.New(g.Pool).GetInstallation(ctx, id)
			require.NoError(t, err)
			require.Equal(t, "revoked", after.Status)
			require.Zero(t, gatewaytest.Count(t, g.Pool, `SELECT count(*) FROM lightfast_gw_tokens WHERE installation_id = $1`, id))
			require.Equal(t, "removed", func() string {
				rs, err := dbq.New(g.Pool).ListResourcesByInstallation(ctx, id)
				require.NoError(t, err)
				return rs[0].Status
			}())
			gotInteg, err := dbq.New(g.Pool).GetIntegration(ctx, integ.ID)
			require.NoError(t, err)
			require.False(t, gotInteg.IsActive)
			// Routes are gone from the cache, and the database no longer resolves them.
			_, src, err = g.Routes.ResolveInstallation(ctx, p, inst.ExternalID)
			require.NoError(t, err)
			require.Equal(t, "none", string(src))
			_, src, err = g.Routes.ResolveResource(ctx, p, "res-"+string(p))
			require.NoError(t, err)
			require.Equal(t, "none", string(src))
			// The vault no longer hands out a token.
			_, err = dbvault.Get(ctx, g.Pool, g.Keyring, id)
			require.ErrorIs(t, err, dbvault.ErrNotFound)
			resp, _ = gatewaytest.Req(t, http.MethodGet, g.URL+"/connections/"+id+"/token", gatewaytest.APIKey)
			require.Equal(t, http.StatusNotFound, resp.StatusCode)

			// Again: same answer, no second provider call.
			resp, _ = gatewaytest.Req(t, http.MethodDelete, url, gatewaytest.APIKey)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			if tc.revokeKey != "" {
				require.Equal(t, calls+1, g.Sim.Calls(tc.revokeKey))
			}
		})
	}
	g.RequireNoSecretsLogged(t)
}

func TestTeardownGoesOnWhenProviderRevokeFails(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	id := g.Connect(t, types.Sentry, "org_a", "user_1")
	g.Sim.FailNext(providersim.KeySentryInstallDelete, http.StatusBadGateway, 1)
	resp, body := gatewaytest.Req(t, http.MethodDelete, g.URL+"/connections/sentry/"+id, gatewaytest.APIKey)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	inst, err := dbq.New(g.Pool).GetInstallation(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, "revoked", inst.Status)
	require.Contains(t, g.Logs.String(), "provider revoke failed")
}

func otherProvider(p types.Provider) types.Provider {
	if p == types.GitHub {
		return types.Vercel
	}
	return types.GitHub
}
