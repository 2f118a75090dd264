package main_test

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/testproc"
)

// TestSecurityConsoleServesWithRedisUnreachable: the real binary started while nothing answers at
// REDIS_URL becomes ready and serves the Console API. With its Postgres then cut off, its
// unauthenticated /readyz names the failed check and nothing of the driver's error, which is logged.
func TestSecurityConsoleServesWithRedisUnreachable(t *testing.T) {
	t.Parallel()
	bin := testproc.Build(t, ".")
	env := baseEnv(t)
	env["REDIS_URL"] = testproc.NewRedis(t).URL() // a free port, nothing listening
	direct := env["DATABASE_URL"]
	var pg *testproc.Proxy
	env["DATABASE_URL"], pg = testproc.ProxiedDatabaseURL(t, direct)
	p := testproc.Start(t, bin, env, "serve")
	took := p.WaitReady(t, readyURL(env), 30*time.Second)
	t.Logf("console ready %s after exec with Redis unreachable", took.Round(time.Millisecond))

	cmd := exec.Command(bin, "dev-token", "--user", "user_1", "--org", "org_1", "--role", "admin")
	cmd.Env = []string{"AUTH_DEV_SECRET=" + env["AUTH_DEV_SECRET"]}
	out, err := cmd.Output()
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost,
		"http://"+env["CONSOLE_ADDR"]+"/lightfast.console.v1.WorkspaceService/CreateWorkspace", strings.NewReader(`{"name":"Acme"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(out)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Contains(t, string(body), `"slug":"acme"`)
	require.Contains(t, p.Output(), "redis unreachable: serving without the cache")

	testproc.RequireReadyzNamesOnlyPostgres(t, p, readyURL(env), pg, direct)
}
