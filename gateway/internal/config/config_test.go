package config_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/gateway/internal/config"
)

func env(extra map[string]string) *platform.Env {
	m := map[string]string{
		"DATABASE_URL":       "postgres://u@localhost/db",
		"REDIS_URL":          "redis://localhost:6379/0",
		"ENCRYPTION_KEYS":    "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"GATEWAY_API_KEYS":   "api",
		"GATEWAY_ADMIN_KEYS": "admin",
	}
	for k, v := range extra {
		m[k] = v
	}
	return platform.MapEnv(m)
}

func TestWebhookLimits(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, int64(26<<20), c.WebhookMaxBodyBytes)
	require.Equal(t, 15*time.Second, c.WebhookReadTimeout)
	require.Equal(t, int64(256<<20), c.WebhookMaxInflightBytes)

	c, err = config.Load(env(map[string]string{"WEBHOOK_READ_TIMEOUT": "3s", "WEBHOOK_MAX_INFLIGHT_BYTES": "67108864"}))
	require.NoError(t, err)
	require.Equal(t, 3*time.Second, c.WebhookReadTimeout)
	require.Equal(t, int64(64<<20), c.WebhookMaxInflightBytes)
	printed, err := json.Marshal(c) // what the gateway prints at start
	require.NoError(t, err)
	require.Contains(t, string(printed), `"WEBHOOK_READ_TIMEOUT":3000000000`)
	require.Contains(t, string(printed), `"WEBHOOK_MAX_INFLIGHT_BYTES":67108864`)

	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"WEBHOOK_READ_TIMEOUT": "0s"}, "WEBHOOK_READ_TIMEOUT"},
		{map[string]string{"WEBHOOK_READ_TIMEOUT": "soon"}, "WEBHOOK_READ_TIMEOUT"},
		{map[string]string{"WEBHOOK_MAX_INFLIGHT_BYTES": "lots"}, "WEBHOOK_MAX_INFLIGHT_BYTES"},
		// A body's buffer peaks under twice its size while it grows, so the budget must hold two of the
		// largest body.
		{map[string]string{"WEBHOOK_MAX_BODY_BYTES": "1048576", "WEBHOOK_MAX_INFLIGHT_BYTES": "2097151"}, "WEBHOOK_MAX_INFLIGHT_BYTES must be at least twice"},
	} {
		_, err := config.Load(env(c.env))
		require.ErrorContains(t, err, c.want, "%v", c.env)
	}
	_, err = config.Load(env(map[string]string{"WEBHOOK_MAX_BODY_BYTES": "1048576", "WEBHOOK_MAX_INFLIGHT_BYTES": "2097152"}))
	require.NoError(t, err)
}
