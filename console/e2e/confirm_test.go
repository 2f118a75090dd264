//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/demoflow"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// TestBrowserAnotherUserCompletingTheLinkConnectsNothing: the first user's connect link (the authorize URL
// their sources page would open) is opened in a second browser, signed in as another user of another
// organisation. That browser goes through the provider's consent and back to the console's /connected
// page, which refuses to confirm a flow its session did not start: it says so, nothing is connected to
// either organisation, and the gateway revokes the grant at the provider.
func TestBrowserAnotherUserCompletingTheLinkConnectsNothing(t *testing.T) {
	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first := s.Client(s.Token(t, "user_first", "org_first", "admin"))
	second := s.Token(t, "user_second", "org_second", "admin")

	link, err := first.Connections.GetAuthorizeURL(ctx, connect.NewRequest(&consolev1.GetAuthorizeURLRequest{Provider: demoflow.ProviderEnum("linear")}))
	require.NoError(t, err)
	before, err := first.SimCalls(ctx)
	require.NoError(t, err)

	b := newBrowser(t)
	signIn(b, s, second)
	b.do("open the first user's link", 45*time.Second,
		chromedp.Navigate(link.Msg.GetAuthorizeUrl()),
		chromedp.WaitVisible(chromedp.ID("connect-result")),
	)
	require.Equal(t, "confirmation_refused", b.attr("refused", "#connect-result", "data-error"))
	require.Empty(t, b.attr("no installation", "#connect-result", "data-installation-id"))
	require.Contains(t, b.text("explained", "#connect-result p.error"), "was not started by you in this organisation")

	for _, c := range []*demoflow.Client{first, s.Client(second)} {
		list, err := c.Connections.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
		require.NoError(t, err)
		require.Empty(t, list.Msg.GetConnections(), "nothing is connected")
	}
	require.Eventually(t, func() bool {
		calls, err := first.SimCalls(ctx)
		require.NoError(t, err)
		return calls["linear.oauth.revoke"] > before["linear.oauth.revoke"]
	}, 30*time.Second, 100*time.Millisecond, "the gateway revoked the grant at the provider")
}
