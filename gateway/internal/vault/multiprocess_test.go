package vault_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
	dbvault "github.com/lightfastai/connections/db/vault"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/providersim"
	"github.com/lightfastai/connections/gateway/internal/vault"
)

// Three real gateway processes share one database. 150 concurrent token requests for one installation
// whose token has expired, spread over the three, cause exactly one refresh at the provider; every
// caller gets the same new token, and the rotated refresh token is the one stored. Each later expiry
// costs exactly one more refresh, under concurrent reads again. (The fault suite's "three replicas, one
// refresh per expiry" case: make faults runs it.)
func TestRefreshIsSingleFlightAcrossProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bin := testproc.Build(t, "../../cmd/gateway")
	sim, simURLs := gatewaytest.StartSim(t)
	dbURL := dbtest.NewDatabaseURL(t)
	pool := dbtest.Pool(t, dbURL)

	addrs := []string{testproc.FreeAddr(t), testproc.FreeAddr(t), testproc.FreeAddr(t)}
	urls := make([]string, len(addrs))
	procs := make([]*testproc.Process, len(addrs))
	for i, addr := range addrs {
		urls[i] = "http://" + addr
		// Every replica has the same public URL, as behind a load balancer.
		env := gatewaytest.Env(dbURL, dbtest.RedisURL(t), simURLs, "http://"+addrs[0])
		env["GATEWAY_ADDR"] = addr
		env["LOG_LEVEL"] = "debug"
		procs[i] = testproc.Start(t, bin, env, "serve")
	}
	for i, p := range procs {
		p.WaitReady(t, urls[i]+"/readyz", 30*time.Second)
	}
	require.NoError(t, sim.SetGatewayURL(urls[0]))

	// Connect through the first replica with a browser, as a user would.
	g := &gatewaytest.Gateway{URL: urls[0], Pool: pool, Sim: sim, SimURLs: simURLs, Seen: &gatewaytest.Secrets{}}
	id := g.Connect(t, types.Linear, "org_a", "user_1")
	before, err := dbq.New(pool).GetTokenByInstallation(ctx, id)
	require.NoError(t, err)

	// The token expires; the provider is slow to refresh, so the requests pile up behind the refresh.
	_, err = pool.Exec(ctx, `UPDATE lightfast_gw_tokens SET expires_at = now() - interval '1 minute' WHERE installation_id = $1`, id)
	require.NoError(t, err)
	sim.ExpireTokens(providersim.ProviderLinear)
	sim.ResetCalls()
	sim.DelayNext(providersim.KeyLinearRefresh, 300*time.Millisecond, 1)

	// concurrentReads sends 150 simultaneous token requests spread over the replicas, requires every one
	// to succeed with the same token, and returns it.
	concurrentReads := func() string {
		t.Helper()
		const requests = 150
		type answer struct {
			status int
			token  string
			err    error
		}
		answers := make([]answer, requests)
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range requests {
			wg.Go(func() {
				<-start
				req, _ := http.NewRequest(http.MethodGet, urls[i%len(urls)]+"/connections/"+id+"/token", nil)
				req.Header.Set("X-API-Key", gatewaytest.APIKey)
				resp, err := client.Do(req)
				if err != nil {
					answers[i].err = err
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				var a tokenAnswer
				_ = json.Unmarshal(body, &a)
				answers[i] = answer{status: resp.StatusCode, token: a.AccessToken}
			})
		}
		close(start)
		wg.Wait()

		for i, a := range answers {
			require.NoError(t, a.err, "request %d", i)
			require.Equal(t, http.StatusOK, a.status, "request %d", i)
			require.NotEmpty(t, a.token)
			require.Equal(t, answers[0].token, a.token, "request %d got another token", i)
		}
		return answers[0].token
	}
	shared := concurrentReads()
	require.Equal(t, 1, sim.Calls(providersim.KeyLinearRefresh), "exactly one refresh at the provider")
	require.True(t, linearViewerWorks(t, g, shared), "the shared token is the provider's new one")

	after, err := dbq.New(pool).GetTokenByInstallation(ctx, id)
	require.NoError(t, err)
	require.Equal(t, before.Version+1, after.Version, "one write")
	kr := keyringFor(t)
	oldRefresh := decrypt(t, kr, before)
	newRefresh := decrypt(t, kr, after)
	require.NotEqual(t, oldRefresh, newRefresh, "the rotated refresh token is stored")
	g.Seen.Add(shared, oldRefresh, newRefresh)

	// The stored refresh token is the live one: the next refresh, through another replica, works. (Wait
	// out the replicas' token cache first: the expiry is moved behind their backs.)
	time.Sleep(vault.DefaultCacheTTL + 100*time.Millisecond)
	_, err = pool.Exec(ctx, `UPDATE lightfast_gw_tokens SET expires_at = now() - interval '1 minute' WHERE installation_id = $1`, id)
	require.NoError(t, err)
	resp, body := gatewaytest.Req(t, http.MethodGet, urls[2]+"/connections/"+id+"/token", gatewaytest.APIKey)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Equal(t, 2, sim.Calls(providersim.KeyLinearRefresh))

	// A third expiry under concurrent reads again: again exactly one more refresh.
	time.Sleep(vault.DefaultCacheTTL + 100*time.Millisecond)
	_, err = pool.Exec(ctx, `UPDATE lightfast_gw_tokens SET expires_at = now() - interval '1 minute' WHERE installation_id = $1`, id)
	require.NoError(t, err)
	sim.ExpireTokens(providersim.ProviderLinear)
	sim.DelayNext(providersim.KeyLinearRefresh, 300*time.Millisecond, 1)
	third := concurrentReads()
	require.NotEqual(t, shared, third)
	require.Equal(t, 3, sim.Calls(providersim.KeyLinearRefresh), "one refresh per expiry")
	g.Seen.Add(third)

	// No process logged a secret, at debug level.
	for _, p := range procs {
		out := p.Output()
		require.Contains(t, out, `"msg":"request"`)
		for _, s := range append(g.Seen.All(), gatewaytest.ClientSecrets...) {
			require.NotContains(t, out, s)
		}
	}
}

func keyringFor(t *testing.T) *secrets.Keyring {
	t.Helper()
	kr, err := secrets.ParseKeyring(gatewaytest.EncryptionKeys)
	require.NoError(t, err)
	return kr
}

func decrypt(t *testing.T, kr *secrets.Keyring, row dbq.Token) string {
	t.Helper()
	require.NotNil(t, row.RefreshToken)
	plain, err := kr.Decrypt(*row.RefreshToken, dbvault.RefreshTokenField(row.ID))
	require.NoError(t, err)
	return plain
}
