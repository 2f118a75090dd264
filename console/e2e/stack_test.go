//go:build e2e

package e2e

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/console/internal/demoflow"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/testproc"
)

// stack is the running system: simulator, gateway and console, each a real binary on its own loopback
// port, sharing one fresh database.
type stack struct {
	SimURL, GatewayURL, ConsoleURL string
	// DevSecret signs development session tokens the console accepts.
	DevSecret string
	// DatabaseURL is the stack's database, for tests that compare what the pages show with what is stored.
	DatabaseURL string
}

// readDevEnv reads scripts/dev.env, the settings `make run` uses, so the suite runs the configuration a
// developer runs.
func readDevEnv(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../scripts/dev.env")
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

// startStack builds the three binaries and starts them on a fresh database, each on a free port.
func startStack(t *testing.T) *stack {
	t.Helper()
	simBin := testproc.Build(t, "../../gateway/cmd/providersim")
	gatewayBin := testproc.Build(t, "../../gateway/cmd/gateway")
	consoleBin := testproc.Build(t, "../cmd/console")

	simAddr, gatewayAddr, consoleAddr := testproc.FreeAddr(t), testproc.FreeAddr(t), testproc.FreeAddr(t)
	s := &stack{SimURL: "http://" + simAddr, GatewayURL: "http://" + gatewayAddr, ConsoleURL: "http://" + consoleAddr}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})

	env := readDevEnv(t)
	s.DevSecret = env["AUTH_DEV_SECRET"]
	for k, v := range map[string]string{
		"DATABASE_URL":           dbtest.NewDatabaseURL(t),
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

	s.DatabaseURL = env["DATABASE_URL"]
	sim := testproc.Start(t, simBin, env)
	sim.WaitReady(t, s.SimURL+"/_sim/healthz", 30*time.Second)
	gateway := testproc.Start(t, gatewayBin, env, "serve")
	console := testproc.Start(t, consoleBin, env, "serve")
	gateway.WaitReady(t, s.GatewayURL+"/readyz", 60*time.Second)
	console.WaitReady(t, s.ConsoleURL+"/readyz", 60*time.Second)
	return s
}

// token returns a development session token for a user in org.
func (s *stack) token(t *testing.T, user, org, role string) string {
	t.Helper()
	tok, err := auth.SignDevToken(s.DevSecret, auth.DevTokenOptions{Principal: auth.Principal{UserID: user, OrgID: org, OrgRole: role}})
	require.NoError(t, err)
	return tok
}

// client returns an API and simulator client acting with session token.
func (s *stack) client(token string) *demoflow.Client {
	return demoflow.New(s.ConsoleURL, s.GatewayURL, s.SimURL, token)
}
