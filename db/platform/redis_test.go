package platform_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/testproc"
)

// Redis unreachable at start is not an error: OpenRedis returns at once with no client, and the client
// appears by itself once a Redis answers at that address.
func TestRedisConnectsWhenItAppears(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	server := testproc.NewRedis(t) // a free port, nothing listening yet
	core, logs := observer.New(zap.DebugLevel)
	start := time.Now()
	r, err := platform.OpenRedis(ctx, server.URL(), zap.New(core))
	require.NoError(t, err)
	t.Cleanup(r.Close)
	t.Logf("OpenRedis with nothing listening returned in %s", time.Since(start).Round(time.Microsecond))
	require.Nil(t, r.Client())
	require.ErrorIs(t, r.Ping(ctx), platform.ErrRedisNotConnected)
	require.Len(t, logs.FilterMessage("redis unreachable: serving without the cache, retrying in the background").All(), 1)

	server.Start()
	appeared := time.Now()
	require.Eventually(t, func() bool { return r.Client() != nil }, 15*time.Second, 10*time.Millisecond)
	t.Logf("client in use %s after Redis appeared", time.Since(appeared).Round(time.Millisecond))
	require.NoError(t, r.Ping(ctx))
	require.Len(t, logs.FilterMessage("redis connected: the cache is in use again").All(), 1)
}

// Close while still waiting for Redis stops the background attempts.
func TestRedisCloseWhileUnreachable(t *testing.T) {
	t.Parallel()
	r, err := platform.OpenRedis(context.Background(), testproc.NewRedis(t).URL(), zap.NewNop())
	require.NoError(t, err)
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	require.Nil(t, r.Client())
}

func TestRedisURLMustParse(t *testing.T) {
	t.Parallel()
	_, err := platform.OpenRedis(context.Background(), "http://nope", zap.NewNop())
	require.EqualError(t, err, "open redis: REDIS_URL is not valid")
}
