package platform

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// ErrRedisNotConnected is what a caller gets while Redis has not answered since the process started.
var ErrRedisNotConnected = errors.New("redis not connected")

// Back-off between connection attempts while Redis has never answered.
const (
	redisRetryMin = 100 * time.Millisecond
	redisRetryMax = 5 * time.Second
)

// Redis is a service's connection to its cache, which may not exist yet. Redis is only a cache (SPEC
// §2, §5.3 point 4), so a service starts and serves while it is unreachable. rueidis.NewClient dials at
// construction (it asks the server whether it is a cluster before choosing a client) and fails when
// nothing answers; ForceSingleClient would return a client anyway but gives up cluster support, and
// REDIS_URL may name a managed cluster. So the client is built in the background, retried with a
// capped back-off, and swapped in once Redis answers; until then Client returns nil and every user
// treats that as a cache miss. Once built, rueidis reconnects on its own after later outages.
type Redis struct {
	opt    rueidis.ClientOption
	log    *zap.Logger
	client atomic.Pointer[redisClient]
	cancel context.CancelFunc
	first  chan struct{} // closed when the first attempt has ended
	done   chan struct{} // closed when no attempt runs or will
}

type redisClient struct{ rueidis.Client }

// OpenRedis returns the connection. It tries Redis once before returning (so a healthy Redis serves
// from the first request) and otherwise keeps trying in the background until Close. The only error is
// a REDIS_URL that cannot be parsed.
func OpenRedis(ctx context.Context, redisURL string, log *zap.Logger) (*Redis, error) {
	r, err := NewRedis(ctx, redisURL, log)
	if err != nil {
		return nil, err
	}
	<-r.first
	return r, nil
}

// NewRedis is OpenRedis without the wait: the first attempt runs in the background too, so a service
// wires the rest meanwhile, and waits on FirstAttempt before it listens.
func NewRedis(ctx context.Context, redisURL string, log *zap.Logger) (*Redis, error) {
	opt, err := rueidis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("open redis: REDIS_URL is not valid")
	}
	// Routing entries are written by other processes; server-assisted client caching would add a
	// tracking connection per client for little gain here.
	opt.DisableCache = true
	opt.ConnWriteTimeout = 2 * time.Second
	opt.Dialer.Timeout = 2 * time.Second
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Redis{opt: opt, log: log, cancel: cancel, first: make(chan struct{}), done: make(chan struct{})}
	go func() {
		err := r.connect()
		if err != nil {
			log.Warn("redis unreachable: serving without the cache, retrying in the background", zap.Error(err))
		}
		close(r.first)
		if err != nil {
			r.retry(bg)
			return
		}
		close(r.done)
	}()
	return r, nil
}

// FirstAttempt is closed once the first attempt to reach Redis has ended, connected or not.
func (r *Redis) FirstAttempt() <-chan struct{} { return r.first }

// Client returns the client, or nil while Redis has not answered yet.
func (r *Redis) Client() rueidis.Client {
	if c := r.client.Load(); c != nil {
		return c.Client
	}
	return nil
}

// Ping checks that Redis answers now.
func (r *Redis) Ping(ctx context.Context) error {
	c := r.Client()
	if c == nil {
		return ErrRedisNotConnected
	}
	return c.Do(ctx, c.B().Ping().Build()).Error()
}

// Close stops the background attempts and closes the client.
func (r *Redis) Close() {
	r.cancel()
	<-r.done
	if c := r.client.Load(); c != nil {
		c.Close()
	}
}

func (r *Redis) connect() error {
	c, err := rueidis.NewClient(r.opt)
	if err != nil {
		return err
	}
	r.client.Store(&redisClient{c})
	return nil
}

func (r *Redis) retry(ctx context.Context) {
	defer close(r.done)
	wait := redisRetryMin
	for attempt := 2; ; attempt++ {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		err := r.connect()
		if err == nil {
			r.log.Info("redis connected: the cache is in use again", zap.Int("attempts", attempt))
			return
		}
		r.log.Debug("redis still unreachable", zap.Int("attempt", attempt), zap.Error(err))
		wait = min(2*wait, redisRetryMax)
	}
}
