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

// TestConnectAPIWithCurlJSON runs the real binary: `console dev-token` prints a session token, and the
// Console API answers Connect JSON the way the README's curl examples call it.
func TestConnectAPIWithCurlJSON(t *testing.T) {
	t.Parallel()
	bin := testproc.Build(t, ".")
	env := baseEnv(t)
	p := testproc.Start(t, bin, env, "serve")
	p.WaitReady(t, readyURL(env), 20*time.Second)

	cmd := exec.Command(bin, "dev-token", "--user", "user_1", "--org", "org_1", "--role", "admin")
	cmd.Env = []string{"AUTH_DEV_SECRET=" + env["AUTH_DEV_SECRET"]}
	out, err := cmd.Output()
	require.NoError(t, err)
	tok := strings.TrimSpace(string(out))

	post := func(procedure, body string) (int, string) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost,
			"http://"+env["CONSOLE_ADDR"]+"/lightfast.console.v1."+procedure, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	status, body := post("WorkspaceService/CreateWorkspace", `{"name":"Acme"}`)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"slug":"acme"`)
	status, body = post("WorkspaceService/ListWorkspaces", `{}`)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"name":"Acme"`)
	status, body = post("ConnectionService/GetAuthorizeURL", `{"provider":"PROVIDER_GITHUB"}`)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `/connections/github/authorize?state=`)
}
