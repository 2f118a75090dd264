package webhook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/gateway/internal/webhook"
)

// The server's read timeout covers the headers and a body taking all of WEBHOOK_READ_TIMEOUT; the write
// timeout, which net/http counts from the end of the headers, covers that body and the recording after.
func TestServerLimitsCoverTheWebhookReadTimeout(t *testing.T) {
	t.Parallel()
	for _, read := range []time.Duration{time.Second, 15 * time.Second, 90 * time.Second} {
		cfg := testConfig()
		cfg.WebhookReadTimeout = read
		l := webhook.ServerLimits(cfg)
		require.GreaterOrEqual(t, l.ReadTimeout, l.ReadHeaderTimeout+read, read)
		require.GreaterOrEqual(t, l.WriteTimeout, read+15*time.Second, read)
		require.Positive(t, l.IdleTimeout)
		require.Positive(t, l.MaxHeaderBytes)
	}
}
