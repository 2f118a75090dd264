// Package stacktest runs the whole system for tests that need every process: the provider simulator, the
// gateway and the console, each a real binary built from source on its own loopback port, sharing one
// fresh database, configured as `make run` configures them (scripts/dev.env). The browser suite (e2e)
// and the console's cross-process tests use it; tests talk to it over HTTP only, as users and providers do.
package stacktest

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/console/internal/demoflow"
	"github.com/lightfastai/connections/console/internal/simtest"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/testproc"
)

// Stack is the running system.
type Stack struct {
	SimURL, GatewayURL, ConsoleURL string
	// DatabaseURL is the database the services share.
	DatabaseURL string
	// DevSecret signs development session tokens the console accepts.
	DevSecret string
}

// readDevEnv reads scripts/dev.env, the settings `make run` uses, so the tests run the configuration a
// developer runs.
func readDevEnv(t testing.TB, root string) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "scripts", "dev.env"))
	require.NoError(t, err)
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "dev.env line without '=': %q", line)
		env[k] = v
	}
	require.NoError(t, sc.Err())
	return env
}

// Start builds the three binaries and starts them on a fresh database, each on a free port. extra
// overrides settings of all three.
func Start(t testing.TB, extra map[string]string) *Stack {
	t.Helper()
	root, err := simtest.RepoRoot()
	require.NoError(t, err)
	simBin := testproc.Build(t, filepath.Join(root, "gateway", "cmd", "providersim"))
	gatewayBin := testproc.Build(t, filepath.Join(root, "gateway", "cmd", "gateway"))
	consoleBin := testproc.Build(t, filepath.Join(root, "console", "cmd", "console"))

	simAddr, gatewayAddr, consoleAddr := testproc.FreeAddr(t), testproc.FreeAddr(t), testproc.FreeAddr(t)
	s := &Stack{SimURL: "http://" + simAddr, GatewayURL: "http://" + gatewayAddr, ConsoleURL: "http://" + consoleAddr,
		DatabaseURL: dbtest.NewDatabaseURL(t)}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})

	env := readDevEnv(t, root)
	s.DevSecret = env["AUTH_DEV_SECRET"]
	for k, v := range map[string]string{
		"DATABASE_URL":           s.DatabaseURL,
		"REDIS_URL":              dbtest.RedisURL(t),
		"LOG_FORMAT":             "json",
		"GITHUB_APP_PRIVATE_KEY": string(keyPEM),
		"GATEWAY_PUBLIC_URL":     s.GatewayURL,
		"CONSOLE_URL":            s.ConsoleURL,
		"CONSOLE_PUBLIC_URL":     s.ConsoleURL,
		"GITHUB_WEB_URL":         s.SimURL + "/github/web",
		"GITHUB_API_URL":         s.SimURL + "/github/api",
		"VERCEL_WEB_URL":         s.SimURL + "/vercel/web",
		"VERCEL_API_URL":         s.SimURL + "/vercel/api",
		"LINEAR_WEB_URL":         s.SimURL + "/linear/web",
		"LINEAR_API_URL":         s.SimURL + "/linear/api",
		"SENTRY_URL":             s.SimURL + "/sentry",
		"PROVIDERSIM_ADDR":       simAddr,
		"GATEWAY_ADDR":           gatewayAddr,
		"CONSOLE_ADDR":           consoleAddr,
	} {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}

	sim := testproc.Start(t, simBin, env)
	sim.WaitReady(t, s.SimURL+"/_sim/healthz", 30*time.Second)
	gateway := testproc.Start(t, gatewayBin, env, "serve")
	console := testproc.Start(t, consoleBin, env, "serve")
	gateway.WaitReady(t, s.GatewayURL+"/readyz", 60*time.Second)
	console.WaitReady(t, s.ConsoleURL+"/readyz", 60*time.Second)
	return s
}

// Token returns a development session token for a user in org.
func (s *Stack) Token(t testing.TB, user, org, role string) string {
	t.Helper()
	tok, err := auth.SignDevToken(s.DevSecret, auth.DevTokenOptions{Principal: auth.Principal{UserID: user, OrgID: org, OrgRole: role}})
	require.NoError(t, err)
	return tok
}

// Client returns an API and simulator client acting with session token.
func (s *Stack) Client(token string) *demoflow.Client {
	return demoflow.New(s.ConsoleURL, s.GatewayURL, s.SimURL, token)
}
