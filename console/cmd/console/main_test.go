package main_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/testproc"
)

func baseEnv(t *testing.T) map[string]string {
	return map[string]string{
		"DATABASE_URL":    dbtest.NewDatabaseURL(t),
		"REDIS_URL":       dbtest.RedisURL(t),
		"ENCRYPTION_KEYS": "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"CONSOLE_ADDR":    testproc.FreeAddr(t),
		"AUTH_DEV_SECRET": "dev-secret-for-tests",
		"LOG_LEVEL":       "warn",
	}
}

func TestServeReadyThenGracefulStop(t *testing.T) {
	t.Parallel()
	bin := testproc.Build(t, ".")
	env := baseEnv(t)
	p := testproc.Start(t, bin, env, "serve")
	p.WaitReady(t, "http://"+env["CONSOLE_ADDR"]+"/readyz", 20*time.Second)

	require.NoError(t, p.Signal(syscall.SIGTERM))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	code, err := p.Wait(ctx)
	require.NoError(t, err)
	require.Equal(t, 0, code, p.Output())
}

func TestMissingRequiredVariableStops(t *testing.T) {
	t.Parallel()
	bin := testproc.Build(t, ".")
	for _, name := range []string{"DATABASE_URL", "REDIS_URL", "ENCRYPTION_KEYS", "AUTH_DEV_SECRET"} {
		t.Run(name, func(t *testing.T) {
			env := baseEnv(t)
			delete(env, name)
			p := testproc.Start(t, bin, env, "serve")
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			code, err := p.Wait(ctx)
			require.NoError(t, err)
			require.NotZero(t, code)
			out := strings.TrimSpace(p.Output())
			require.Contains(t, out, name)
			require.Equal(t, 1, strings.Count(out, "\n")+1, "one line naming the variable, got:\n%s", out)
		})
	}
}

func TestMalformedVariableStopsWithoutEchoingSecrets(t *testing.T) {
	t.Parallel()
	bin := testproc.Build(t, ".")
	env := baseEnv(t)
	env["ENCRYPTION_KEYS"] = "k1:c2hvcnQtc2VjcmV0LWtleQ=="
	p := testproc.Start(t, bin, env, "serve")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	code, err := p.Wait(ctx)
	require.NoError(t, err)
	require.NotZero(t, code)
	require.Contains(t, p.Output(), "ENCRYPTION_KEYS")
	require.NotContains(t, p.Output(), "c2hvcnQtc2VjcmV0LWtleQ")
}

func TestRefusesOlderSchema(t *testing.T) {
	t.Parallel()
	bin := testproc.Build(t, ".")
	env := baseEnv(t)
	pool := dbtest.Pool(t, env["DATABASE_URL"])
	_, err := pool.Exec(context.Background(), `UPDATE schema_migrations SET version = 0`)
	require.NoError(t, err)
	p := testproc.Start(t, bin, env, "serve")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	code, err := p.Wait(ctx)
	require.NoError(t, err)
	require.NotZero(t, code)
	require.Contains(t, p.Output(), "schema is older")
}
