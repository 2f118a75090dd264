package connect_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/types"
	dbvault "github.com/lightfastai/connections/db/vault"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

// stored reads what a connect flow wrote and checks what every provider has in common: the
// installation is active and belongs to the org, the token column holds ciphertext only, and the
// vault read returns the token. It returns the installation and the plaintext token.
func stored(t *testing.T, g *gatewaytest.Gateway, installationID, org, user string) (dbq.Installation, string) {
	t.Helper()
	ctx := context.Background()
	inst, err := dbq.New(g.Pool).GetInstallationForOrg(ctx, dbq.GetInstallationForOrgParams{ID: installationID, OrgID: org})
	require.NoError(t, err, "the installation belongs to the org that started the flow")
	require.Equal(t, "active", inst.Status)
	require.Equal(t, user, inst.ConnectedBy)
	require.NotNil(t, inst.ProviderAccountInfo)
	require.Equal(t, inst.Provider, inst.ProviderAccountInfo.SourceType)
	require.Equal(t, 1, inst.ProviderAccountInfo.Version)

	tok, err := dbvault.GetForOrg(ctx, g.Pool, g.Keyring, org, installationID)
	require.NoError(t, err)
	plain := tok.AccessToken.Reveal()
	require.NotEmpty(t, plain)
	g.Seen.Add(plain)

	row, err := dbq.New(g.Pool).GetTokenByInstallation(ctx, installationID)
	require.NoError(t, err)
	require.NotContains(t, row.AccessToken, plain, "the token column holds ciphertext")
	require.Regexp(t, `^v1:k1:`, row.AccessToken)
	if row.RefreshToken != nil {
		refresh, err := g.Keyring.Decrypt(*row.RefreshToken, dbvault.RefreshTokenField(row.ID))
		require.NoError(t, err)
		require.NotContains(t, *row.RefreshToken, refresh)
		g.Seen.Add(refresh)
	}
	return inst, plain
}

func TestGitHubFlow(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	id := g.Connect(t, types.GitHub, "org_a", "user_1")

	inst, token := stored(t, g, id, "org_a", "user_1")
	sims := g.Sim.GitHubInstallations()
	require.Len(t, sims, 1)
	simInst := sims[0]
	require.Equal(t, strconv.FormatInt(simInst.ID, 10), inst.ExternalID)
	require.Equal(t, simInst.Account.Login, *inst.AccountLogin)
	gh := inst.ProviderAccountInfo.GitHub
	require.Len(t, gh.Installations, 1)
	require.Equal(t, simInst.ID, gh.Installations[0].ID)
	require.Equal(t, simInst.Account.ID, gh.Installations[0].AccountID)
	require.Equal(t, simInst.Account.Login, gh.Installations[0].AccountLogin)
	require.Equal(t, "Organization", gh.Installations[0].AccountType)
	require.Equal(t, simInst.Permissions, gh.Installations[0].Permissions)
	require.NotNil(t, gh.Installations[0].InstalledAt)
	require.NotNil(t, gh.Installations[0].LastValidatedAt)

	// The stored token is a real installation token: GitHub (the simulator) accepts it. Its scope is the
	// permissions GitHub granted it, which the console's ValidateInstallations reads back.
	require.Regexp(t, `^ghs_`, token)
	tok, err := dbvault.GetForOrg(context.Background(), g.Pool, g.Keyring, "org_a", id)
	require.NoError(t, err)
	require.NotEmpty(t, simInst.Permissions)
	require.Equal(t, simInst.Permissions, types.ParseGitHubPermissions(tok.Scope))
	req, _ := http.NewRequest(http.MethodGet, g.SimURLs.GitHubAPI+"/installation/repositories", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// The installation was confirmed with the user's token before anything was written.
	require.Equal(t, 1, g.Sim.Calls(providersim.KeyGitHubOAuthToken))
	require.Equal(t, 1, g.Sim.Calls(providersim.KeyGitHubUserInstalls))
	require.Equal(t, 1, g.Sim.Calls(providersim.KeyGitHubAppInstallation))
	require.Equal(t, 1, g.Sim.Calls(providersim.KeyGitHubAccessToken))
	g.RequireNoSecretsLogged(t)
}

func TestVercelFlow(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)

	t.Run("team", func(t *testing.T) {
		id := g.Connect(t, types.Vercel, "org_a", "user_1")
		inst, _ := stored(t, g, id, "org_a", "user_1")
		cfg := g.Sim.Config()
		configs := g.Sim.VercelConfigurations()
		require.Len(t, configs, 1)
		require.Equal(t, configs[0].ID, inst.ExternalID, "external id is the configurationId")
		vc := inst.ProviderAccountInfo.Vercel
		require.Equal(t, types.VercelAccountInfo{
			UserID: cfg.VercelUserID, TeamID: cfg.VercelTeamID, TeamSlug: cfg.VercelTeamSlug, ConfigurationID: configs[0].ID,
		}, *vc)
		require.Equal(t, cfg.VercelTeamSlug, *inst.AccountLogin)
		require.Equal(t, 1, g.Sim.Calls(providersim.KeyVercelTeam))
	})
	t.Run("personal account", func(t *testing.T) {
		require.NoError(t, g.Sim.QueueConsent(providersim.ProviderVercel, providersim.Consent{Personal: true}))
		id := g.Connect(t, types.Vercel, "org_b", "user_2")
		inst, _ := stored(t, g, id, "org_b", "user_2")
		vc := inst.ProviderAccountInfo.Vercel
		require.Empty(t, vc.TeamID)
		require.Empty(t, vc.TeamSlug)
		require.Equal(t, inst.ExternalID, vc.ConfigurationID)
		require.Nil(t, func() any {
			tok, _ := dbq.New(g.Pool).GetTokenByInstallation(context.Background(), id)
			return tok.ExpiresAt
		}(),
			"Vercel tokens do not expire")
	})
	g.RequireNoSecretsLogged(t)
}

func TestLinearFlow(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	id := g.Connect(t, types.Linear, "org_a", "user_1")
	inst, _ := stored(t, g, id, "org_a", "user_1")

	orgs := g.Sim.LinearOrganizations()
	require.Len(t, orgs, 1)
	require.Equal(t, orgs[0].ID, inst.ExternalID, "external id is the Linear organization id")
	require.Equal(t, types.LinearAccountInfo{OrganizationID: orgs[0].ID, OrganizationName: orgs[0].Name, URLKey: orgs[0].URLKey},
		*inst.ProviderAccountInfo.Linear)

	// The webhook was registered during the callback; its secret is stored encrypted, bound to the row.
	hooks := g.Sim.LinearWebhooks()
	require.Len(t, hooks, 1)
	require.Equal(t, g.URL+"/webhooks/linear", hooks[0].URL)
	require.Equal(t, hooks[0].ID, inst.Metadata["linearWebhookId"])
	require.NotNil(t, inst.WebhookSecret)
	require.NotContains(t, *inst.WebhookSecret, hooks[0].Secret)
	secret, err := g.Keyring.Decrypt(*inst.WebhookSecret, dbvault.WebhookSecretField(inst.ID))
	require.NoError(t, err)
	require.Equal(t, hooks[0].Secret, secret)
	g.Seen.Add(secret)

	// Linear tokens expire and come with a refresh token.
	row, err := dbq.New(g.Pool).GetTokenByInstallation(context.Background(), id)
	require.NoError(t, err)
	require.NotNil(t, row.ExpiresAt)
	require.NotNil(t, row.RefreshToken)
	g.RequireNoSecretsLogged(t)
}

func TestSentryFlow(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	id := g.Connect(t, types.Sentry, "org_a", "user_1")
	inst, _ := stored(t, g, id, "org_a", "user_1")

	installs := g.Sim.SentryInstallations()
	require.Len(t, installs, 1)
	require.Equal(t, "installed", installs[0].Status, "the installation was verified")
	require.Equal(t, installs[0].UUID, inst.ExternalID)
	require.Equal(t, types.SentryAccountInfo{InstallationUUID: installs[0].UUID, OrgSlug: installs[0].OrgSlug},
		*inst.ProviderAccountInfo.Sentry)
	require.Equal(t, 1, g.Sim.Calls(providersim.KeySentryInstallUpdate))
	g.RequireNoSecretsLogged(t)
}

func TestUserInTwoOrgsSeesEachInstallationInItsOwnOrg(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	require.NoError(t, g.Sim.QueueConsent(providersim.ProviderGitHub, providersim.Consent{Account: "acme"}))
	a := g.Connect(t, types.GitHub, "org_a", "user_1")
	require.NoError(t, g.Sim.QueueConsent(providersim.ProviderGitHub, providersim.Consent{Account: "globex"}))
	b := g.Connect(t, types.GitHub, "org_b", "user_1")
	require.NotEqual(t, a, b)

	q := dbq.New(g.Pool)
	listA, err := q.ListInstallationsByOrg(ctx, dbq.ListInstallationsByOrgParams{OrgID: "org_a"})
	require.NoError(t, err)
	require.Len(t, listA, 1)
	require.Equal(t, a, listA[0].ID)
	require.Equal(t, "acme", *listA[0].AccountLogin)
	listB, err := q.ListInstallationsByOrg(ctx, dbq.ListInstallationsByOrgParams{OrgID: "org_b"})
	require.NoError(t, err)
	require.Len(t, listB, 1)
	require.Equal(t, b, listB[0].ID)
	require.Equal(t, "globex", *listB[0].AccountLogin)

	// Tokens follow the same boundary.
	_, err = dbvault.GetForOrg(ctx, g.Pool, g.Keyring, "org_a", b)
	require.ErrorIs(t, err, dbvault.ErrNotFound)
	_, err = dbvault.GetForOrg(ctx, g.Pool, g.Keyring, "org_b", a)
	require.ErrorIs(t, err, dbvault.ErrNotFound)
}
