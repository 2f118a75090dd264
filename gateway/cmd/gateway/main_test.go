package main_test

import (
	"context"
	"maps"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/testproc"
)

func baseEnv(t testing.TB) map[string]string {
	return map[string]string{
		"DATABASE_URL":       dbtest.NewDatabaseURL(t),
		"REDIS_URL":          dbtest.RedisURL(t),
		"ENCRYPTION_KEYS":    "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"GATEWAY_ADDR":       testproc.FreeAddr(t),
		"GATEWAY_API_KEYS":   "api-key-1",
		"GATEWAY_ADMIN_KEYS": "admin-key-1",
		"LOG_LEVEL":          "warn",
	}
}

func readyURL(env map[string]string) string { return "http://" + env["GATEWAY_ADDR"] + "/readyz" }

func TestServeReadyThenGracefulStop(t *testing.T) {
	t.Parallel()
	env := baseEnv(t)
	testproc.RequireGracefulStop(t, testproc.Build(t, "."), env, readyURL(env))
}

func TestMissingRequiredVariableStops(t *testing.T) {
	t.Parallel()
	bin := testproc.Build(t, ".")
	for _, name := range []string{"DATABASE_URL", "REDIS_URL", "ENCRYPTION_KEYS", "GATEWAY_API_KEYS", "GATEWAY_ADMIN_KEYS"} {
		t.Run(name, func(t *testing.T) {
			env := baseEnv(t)
			delete(env, name)
			testproc.RequireStartFailure(t, bin, env, name)
		})
	}
}

func TestMalformedVariableStopsWithoutEchoingSecrets(t *testing.T) {
	t.Parallel()
	bin := testproc.Build(t, ".")
	env := baseEnv(t)
	env["ENCRYPTION_KEYS"] = "k1:c2hvcnQtc2VjcmV0LWtleQ=="
	testproc.RequireStartFailure(t, bin, env, "ENCRYPTION_KEYS", "c2hvcnQtc2VjcmV0LWtleQ")

	env = baseEnv(t)
	env["GITHUB_APP_ID"] = "123" // a provider configured half-way
	testproc.RequireStartFailure(t, bin, env, "GITHUB_APP_PRIVATE_KEY")
}

func TestRefusesOlderSchema(t *testing.T) {
	t.Parallel()
	env := baseEnv(t)
	_, err := dbtest.Pool(t, env["DATABASE_URL"]).Exec(context.Background(), `UPDATE schema_migrations SET version = 0`)
	require.NoError(t, err)
	testproc.RequireStartFailure(t, testproc.Build(t, "."), env, "schema is older")
}

// BenchmarkExecToReady alternates the service's starts with the reference program's (the goal is
// a ratio to it).
func BenchmarkExecToReady(b *testing.B) {
	env := baseEnv(b)
	testproc.BenchmarkExecToReady(b, testproc.Build(b, "."), env, readyURL(env), env)
}

// BenchmarkExecToReadyRedisDown is BenchmarkExecToReady with nothing listening at REDIS_URL.
func BenchmarkExecToReadyRedisDown(b *testing.B) {
	env := baseEnv(b)
	ref := maps.Clone(env) // the reference needs a Redis that answers
	env["REDIS_URL"] = testproc.NewRedis(b).URL()
	testproc.BenchmarkExecToReady(b, testproc.Build(b, "."), env, readyURL(env), ref)
}
