package dbtest

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/lightfastai/connections/db/ids"
)

var (
	redisOnce sync.Once
	redisURL  string
	redisErr  error
)

// RedisURL returns the Redis URL tests use: TEST_REDIS_URL, or a testcontainers-go Redis.
func RedisURL(t testing.TB) string {
	t.Helper()
	redisOnce.Do(func() {
		if u := os.Getenv("TEST_REDIS_URL"); u != "" {
			redisURL = u
			return
		}
		redisURL, redisErr = startRedisContainer()
	})
	if redisErr != nil {
		t.Fatalf("dbtest: no Redis for tests: set TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) or run a Docker engine for testcontainers: %v", redisErr)
	}
	return redisURL
}

// Redis returns a client and a key prefix unique to this test. Keys under the prefix are deleted at
// cleanup.
func Redis(t testing.TB) (rueidis.Client, string) {
	t.Helper()
	opt, err := rueidis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("dbtest: TEST_REDIS_URL: %v", err)
	}
	opt.DisableCache = true
	client, err := rueidis.NewClient(opt)
	if err != nil {
		t.Fatalf("dbtest: connect to Redis: %v", err)
	}
	prefix := "t:" + strings.ToLower(ids.New()) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var cursor uint64
		for {
			res, err := client.Do(ctx, client.B().Scan().Cursor(cursor).Match(prefix+"*").Count(500).Build()).AsScanEntry()
			if err != nil {
				break
			}
			if len(res.Elements) > 0 {
				client.Do(ctx, client.B().Del().Key(res.Elements...).Build())
			}
			if cursor = res.Cursor; cursor == 0 {
				break
			}
		}
		client.Close()
	})
	return client, prefix
}
