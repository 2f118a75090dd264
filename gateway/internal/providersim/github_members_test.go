package providersim

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// userToken runs a consent for user on installation query q and exchanges the code for their user token.
func userToken(t *testing.T, b testBundle, query string) string {
	t.Helper()
	cb := b.get(t, b.urls.GitHubWeb+"/apps/lightfast-sim/installations/new?state=s&"+query, "").location(t)
	cfg := b.sim.Config()
	r := b.do(t, http.MethodPost, b.urls.GitHubWeb+"/login/oauth/access_token", map[string]string{
		"client_id": cfg.GitHubClientID, "client_secret": string(cfg.GitHubClientSecret), "code": cb.Query().Get("code"),
	}, "Accept", "application/json")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	r.json(t, &tok)
	require.NotEmpty(t, tok.AccessToken)
	return tok.AccessToken
}

func membership(t *testing.T, b testBundle, tok, org string) (int, GitHubMembership) {
	t.Helper()
	r := b.get(t, b.urls.GitHubAPI+"/user/memberships/orgs/"+org, tok)
	var m struct {
		State string `json:"state"`
		Role  string `json:"role"`
	}
	if r.status == http.StatusOK {
		r.json(t, &m)
	}
	return r.status, GitHubMembership{State: m.State, Role: m.Role}
}

// GET /user/memberships/orgs/{org} answers as GitHub does: the caller's state and role, or 404 for a
// user who is not a member (an outside collaborator with access to some repositories is not).
func TestGitHubMemberships(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The default user administers the default account; whoever creates an installation on an
	// organization becomes its owner.
	defaultTok := userToken(t, b, "")
	status, m := membership(t, b, defaultTok, "lightfast-sim")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, GitHubMembership{Role: "admin", State: "active"}, m)
	founderTok := userToken(t, b, "sim_user=founder&sim_account=newco")
	status, m = membership(t, b, founderTok, "newco")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "admin", m.Role)

	// An outside collaborator sees the installation but is no member.
	inst := b.sim.SeedGitHubInstallation(0, "newco", "collab")
	require.Contains(t, inst.Users, "collab")
	collabTok := userToken(t, b, "sim_user=collab&sim_account=newco")
	status, _ = membership(t, b, collabTok, "newco")
	require.Equal(t, http.StatusNotFound, status)

	// Tests set memberships through the control API.
	for _, tc := range []struct {
		body   map[string]string
		status int
		want   GitHubMembership
	}{
		{map[string]string{"org": "newco", "user": "collab", "role": "member"}, http.StatusOK, GitHubMembership{Role: "member", State: "active"}},
		{map[string]string{"org": "newco", "user": "collab", "role": "admin", "state": "pending"}, http.StatusOK, GitHubMembership{Role: "admin", State: "pending"}},
		{map[string]string{"org": "newco", "user": "collab", "role": "none"}, http.StatusNotFound, GitHubMembership{}},
	} {
		r := b.do(t, http.MethodPost, b.urls.Control+"/github/memberships", tc.body, "Content-Type", "application/json")
		require.Equal(t, http.StatusNoContent, r.status, string(r.body))
		status, m = membership(t, b, collabTok, "newco")
		require.Equal(t, tc.status, status)
		require.Equal(t, tc.want.Role, m.Role)
		require.Equal(t, tc.want.State, m.State)
	}
	for _, bad := range []map[string]string{{"org": "newco"}, {"org": "newco", "user": "x", "role": "owner"}, {"org": "newco", "user": "x", "state": "gone"}} {
		r := b.do(t, http.MethodPost, b.urls.Control+"/github/memberships", bad, "Content-Type", "application/json")
		require.Equal(t, http.StatusBadRequest, r.status)
	}
	// Only user tokens: an installation token cannot ask.
	r := b.get(t, b.urls.GitHubAPI+"/user/memberships/orgs/newco", b.installationToken(t, inst.ID))
	require.Equal(t, http.StatusForbidden, r.status)
}

// GET /user is the token's user, with the id its account has everywhere (so an installation on a user's
// own account names the same id).
func TestGitHubAuthenticatedUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := userToken(t, b, "sim_user=alice&sim_account=alice")
	r := b.get(t, b.urls.GitHubAPI+"/user", tok)
	require.Equal(t, http.StatusOK, r.status)
	var u struct {
		Login string `json:"login"`
		ID    int64  `json:"id"`
	}
	r.json(t, &u)
	require.Equal(t, "alice", u.Login)
	var own GitHubInstallation
	for _, inst := range b.sim.GitHubInstallations() {
		if inst.Account.Login == "alice" {
			own = inst
		}
	}
	require.Equal(t, "User", own.Account.Type, "installed on the user's own account")
	require.Equal(t, u.ID, own.Account.ID)
	require.Equal(t, http.StatusUnauthorized, b.get(t, b.urls.GitHubAPI+"/user", "bogus").status)
}
