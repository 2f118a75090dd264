package api_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/securitytest"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// TestSecurityReturnToIsAConsolePath is GetAuthorizeURL's part of the security suite's open-redirect
// cases: a return_to that is not a path on the Console is InvalidArgument and writes no state; one that
// is accepted resolves on the Console's own origin. (The Gateway never redirects to it either: see the
// gateway's TestSecurityNoOpenRedirect, which puts every attack string in the state's return_to column.)
func TestSecurityReturnToIsAConsolePath(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	c := e.admin("org_a")
	const console = "http://localhost:4107"
	base, err := url.Parse(console + "/sources")
	require.NoError(t, err)
	for _, evil := range securitytest.OpenRedirects(console) {
		before := e.snapshot()
		rt := evil
		resp, err := c.conn.GetAuthorizeURL(ctx, connect.NewRequest(&consolev1.GetAuthorizeURLRequest{
			Provider: consolev1.Provider_PROVIDER_GITHUB, ReturnTo: &rt,
		}))
		if err != nil {
			requireCode(t, err, connect.CodeInvalidArgument)
			require.Equal(t, before, e.snapshot(), "a refused return_to writes no state: %q", evil)
			continue
		}
		u, err := url.Parse(resp.Msg.GetAuthorizeUrl())
		require.NoError(t, err)
		require.Equal(t, gatewayURL+"/connections/github/authorize", u.Scheme+"://"+u.Host+u.Path, "the authorize URL never carries the return_to")
		require.Equal(t, []string{"state"}, keysOf(u.Query()), evil)
		st, err := oauthstate.Peek(ctx, e.pool, types.GitHub, u.Query().Get("state"))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(st.ReturnTo, "/") && !strings.HasPrefix(st.ReturnTo, "//"), "%q stored as %q", evil, st.ReturnTo)
		resolved, err := base.Parse(st.ReturnTo)
		require.NoError(t, err)
		require.Equal(t, "localhost:4107", resolved.Host, "%q resolves to another host", evil)
	}
}

func keysOf(q url.Values) []string {
	out := make([]string, 0, len(q))
	for k := range q {
		out = append(out, k)
	}
	return out
}
