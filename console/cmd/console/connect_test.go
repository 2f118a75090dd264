package main_test

// The connect flow across every process (SPEC §5.1): a browser (an HTTP client with a cookie jar, signed
// in to the console with its session cookie) goes console → gateway authorize → simulator consent →
// gateway callback → console /connected, which confirms the connection under that session; the gateway's
// River worker revokes at the provider what must not stay connected. The simulator, gateway and console
// are the real binaries (console/internal/stacktest).

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/console/internal/demoflow"
	"github.com/lightfastai/connections/console/internal/stacktest"
	"github.com/lightfastai/connections/db/dbtest"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// connectedPage is what /connected rendered: its result attributes.
type connectedPage struct {
	Status                              int
	InstallationID, AccountLogin, Error string
}

var dataAttr = regexp.MustCompile(`data-(installation-id|account-login|error)="([^"]*)"`)

// openAs makes a browser signed in to the console as session follow rawURL (an authorize URL) to the end:
// the console's /connected page.
func openAs(t *testing.T, s *stacktest.Stack, session, rawURL string) connectedPage {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	console, err := url.Parse(s.ConsoleURL)
	require.NoError(t, err)
	jar.SetCookies(console, []*http.Cookie{{Name: auth.SessionCookie, Value: session, Path: "/"}})
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html")
	resp, err := browser.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "/connected", resp.Request.URL.Path, "the flow ended at %s: %s", resp.Request.URL, body)
	out := connectedPage{Status: resp.StatusCode}
	for _, m := range dataAttr.FindAllStringSubmatch(string(body), -1) {
		switch m[1] {
		case "installation-id":
			out.InstallationID = m[2]
		case "account-login":
			out.AccountLogin = m[2]
		case "error":
			out.Error = m[2]
		}
	}
	return out
}

func authorizeURL(t *testing.T, api *demoflow.Client, provider string) string {
	t.Helper()
	res, err := api.Connections.GetAuthorizeURL(context.Background(), connect.NewRequest(&consolev1.GetAuthorizeURLRequest{Provider: demoflow.ProviderEnum(provider)}))
	require.NoError(t, err)
	return res.Msg.GetAuthorizeUrl()
}

func waitSimCall(t *testing.T, api *demoflow.Client, key string, want int) {
	t.Helper()
	require.Eventually(t, func() bool {
		calls, err := api.SimCalls(context.Background())
		require.NoError(t, err)
		return calls[key] >= want
	}, 30*time.Second, 50*time.Millisecond, "the simulator never saw %s", key)
}

// TestSecurityConnectLinkCompletedByAnotherUserConnectsNothing is attack 2 of issue 14 across the real
// processes: the attacker sends their connect link to a victim who is signed in to the console. The victim
// consents at the provider; the victim's /connected page cannot confirm a flow it did not start, so the
// pending connection is removed and the gateway revokes the victim's grant at the provider. Nothing is
// connected to the attacker's organisation, before or after.
func TestSecurityConnectLinkCompletedByAnotherUserConnectsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := stacktest.Start(t, nil)
	attacker := s.Client(s.Token(t, "user_attacker", "org_attacker", "admin"))
	pool := dbtest.Pool(t, s.DatabaseURL)

	page := openAs(t, s, s.Token(t, "user_victim", "org_victim", "admin"), authorizeURL(t, attacker, "linear"))
	require.Equal(t, http.StatusOK, page.Status)
	require.Equal(t, "confirmation_refused", page.Error)
	require.Empty(t, page.InstallationID)

	waitSimCall(t, attacker, "linear.oauth.revoke", 1)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM lightfast_gw_installations`).Scan(&n))
		return n == 0
	}, 30*time.Second, 50*time.Millisecond, "the unconfirmed installation was removed")
	list, err := attacker.Connections.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	require.NoError(t, err)
	require.Empty(t, list.Msg.GetConnections())
}

// TestSecurityConsoleDisconnectRevokesAtTheProvider: the owner connects (the /connected page confirms it
// and says which account), then disconnects in the console; the gateway's installation.revoke job removes
// the integration configuration at the provider and deletes the token.
func TestSecurityConsoleDisconnectRevokesAtTheProvider(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := stacktest.Start(t, nil)
	token := s.Token(t, "user_owner", "org_owner", "admin")
	api := s.Client(token)
	pool := dbtest.Pool(t, s.DatabaseURL)

	page := openAs(t, s, token, authorizeURL(t, api, "vercel"))
	require.Equal(t, http.StatusOK, page.Status)
	require.Empty(t, page.Error)
	require.NotEmpty(t, page.InstallationID)
	require.NotEmpty(t, page.AccountLogin, "the page says which account was connected")
	list, err := api.Connections.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetConnections(), 1)
	require.Equal(t, consolev1.ConnectionStatus_CONNECTION_STATUS_ACTIVE, list.Msg.GetConnections()[0].GetStatus())
	require.Equal(t, page.AccountLogin, list.Msg.GetConnections()[0].GetAccountLogin())

	_, err = api.Connections.Disconnect(ctx, connect.NewRequest(&consolev1.DisconnectRequest{InstallationId: page.InstallationID}))
	require.NoError(t, err)
	waitSimCall(t, api, "vercel.configuration.delete", 1)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM lightfast_gw_tokens WHERE installation_id = $1`, page.InstallationID).Scan(&n))
		return n == 0
	}, 30*time.Second, 50*time.Millisecond, "the token is deleted after the provider revoke")
}
