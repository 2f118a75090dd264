package connect_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

// The code exchange's answer is what proves which configuration the callback's configurationId is: an
// answer that names none proves nothing, so the callback is refused and nothing is written.
func TestSecurityVercelCallbackFailsClosedWithoutConfiguration(t *testing.T) {
	t.Parallel()
	g := gatewaytest.Start(t)
	g.Sim.InjectFault(providersim.Fault{
		Key:  providersim.KeyVercelOAuthToken,
		Body: `{"token_type":"Bearer","access_token":"vc_unbound_token","user_id":"user_vc","team_id":null}`,
	})
	out := g.Follow(t, g.Browser(t), g.AuthorizeURL(types.Vercel, g.NewState(t, types.Vercel, "org_a", "user_1")))
	requireErrorPage(t, out, http.StatusForbidden, "installation_unconfirmed")
	requireNothingWritten(t, g)

	// The same flow with the configuration named completes (the fault was for one call).
	out = g.Follow(t, g.Browser(t), g.AuthorizeURL(types.Vercel, g.NewState(t, types.Vercel, "org_a", "user_1")))
	require.Equal(t, http.StatusFound, out.Status, out.Body)
	require.Empty(t, out.Error)
	require.NotEmpty(t, out.InstallationID)
}
