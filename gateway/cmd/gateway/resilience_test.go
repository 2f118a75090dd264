package main_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

const webhookSecret = "resilience-github-webhook-secret"

// TestSecurityGatewayServesWithRedisUnreachable: the real binary started while nothing answers at
// REDIS_URL becomes ready and accepts a signed webhook, routed through Postgres. Then a Redis appears at
// that address and the same process, without a restart, fills the routing cache there.
func TestSecurityGatewayServesWithRedisUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := baseEnv(t)
	redisServer := testproc.NewRedis(t) // a free port, nothing listening
	env["REDIS_URL"] = redisServer.URL()
	env["GITHUB_WEBHOOK_SECRETS"] = webhookSecret
	pool := dbtest.Pool(t, env["DATABASE_URL"])
	inst, err := dbq.New(pool).UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.GitHub, ExternalID: "4242", ConnectedBy: "user_1", OrgID: "org_1",
	})
	require.NoError(t, err)
	base := "http://" + env["GATEWAY_ADDR"]

	p := testproc.Start(t, testproc.Build(t, "."), env, "serve")
	took := p.WaitReady(t, readyURL(env), 30*time.Second)
	t.Logf("gateway ready %s after exec with Redis unreachable", took.Round(time.Millisecond))

	health := func() map[string]any {
		req, err := http.NewRequest(http.MethodGet, base+"/admin/health", nil)
		require.NoError(t, err)
		req.Header.Set("X-Admin-Key", "admin-key-1")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	h := health()
	require.Equal(t, "degraded", h["status"])
	require.Equal(t, "not connected since start", h["checks"].(map[string]any)["redis"])

	seq := 0
	send := func() string {
		seq++
		body := []byte(`{"ref":"refs/heads/main","after":"abc","repository":{"id":1},"installation":{"id":4242}}`)
		req, err := http.NewRequest(http.MethodPost, base+"/webhooks/github", strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "redis-down-"+ids.New())
		req.Header.Set("X-Hub-Signature-256", providersim.SignGitHub(webhookSecret, body))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, resp.StatusCode, string(raw))
		var out struct{ Status, ID string }
		require.NoError(t, json.Unmarshal(raw, &out))
		require.Equal(t, "accepted", out.Status)
		return out.ID
	}
	id := send()
	row, err := dbq.New(pool).GetDelivery(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "received", row.Status)
	require.Equal(t, inst.ID, *row.InstallationID, "routed through Postgres")
	var jobs int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE args->>'deliveryId' = $1`, id).Scan(&jobs))
	require.Equal(t, 1, jobs)

	// Redis appears at REDIS_URL; the gateway takes it into use by itself.
	redisServer.Start()
	appeared := time.Now()
	opt, err := rueidis.ParseURL(redisServer.URL())
	require.NoError(t, err)
	opt.DisableCache = true
	rc, err := rueidis.NewClient(opt)
	require.NoError(t, err)
	t.Cleanup(rc.Close)
	key := "route:github:inst:4242"
	require.Eventually(t, func() bool {
		send()
		v, err := rc.Do(ctx, rc.B().Get().Key(key).Build()).ToString()
		return err == nil && v == inst.ID
	}, 30*time.Second, 100*time.Millisecond, "the routing cache is filled in the Redis that appeared")
	t.Logf("routing cache filled %s after Redis appeared (%d webhooks sent)", time.Since(appeared).Round(time.Millisecond), seq)
	require.Eventually(t, func() bool {
		h := health()
		return h["status"] == "ok" && h["checks"].(map[string]any)["redis"] == "ok"
	}, 10*time.Second, 50*time.Millisecond)

	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err = p.Wait(waitCtx)
	require.Error(t, err, "the same process throughout: still running")
	require.Contains(t, p.Output(), "redis unreachable: serving without the cache")
}

// TestSecurityGatewayReadyzSaysOnlyWhichCheckFailed: with its Postgres cut off, the real binary's
// unauthenticated /readyz names the failed check and nothing of the driver's error, which is logged.
func TestSecurityGatewayReadyzSaysOnlyWhichCheckFailed(t *testing.T) {
	t.Parallel()
	env := baseEnv(t)
	direct := env["DATABASE_URL"]
	var pg *testproc.Proxy
	env["DATABASE_URL"], pg = testproc.ProxiedDatabaseURL(t, direct)
	p := testproc.Start(t, testproc.Build(t, "."), env, "serve")
	p.WaitReady(t, readyURL(env), 30*time.Second)
	testproc.RequireReadyzNamesOnlyPostgres(t, p, readyURL(env), pg, direct)
}
