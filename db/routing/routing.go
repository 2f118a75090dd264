// Package routing resolves a webhook to the installation it belongs to. Redis holds a cache of
// provider ids → installation ids; Postgres (gw_installations, gw_resources) is the truth. Every Redis
// failure, and a Redis not reached yet since the process started, is treated as a miss, so routing keeps
// working, slower, while Redis is down.
package routing

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/types"
)

// TTL bounds how long a cached route can outlive a change that forgot to invalidate it.
const TTL = 24 * time.Hour

// Source says where a resolution came from (for metrics).
type Source string

// Resolution sources.
const (
	FromCache Source = "cache"
	FromDB    Source = "db"
	NotFound  Source = "none"
)

// Keys are the cache keys, all under one prefix (tests use a prefix of their own).
type Keys struct{ Prefix string }

// Installation is the key for a provider's installation id (GitHub installation.id, Linear
// organizationId, Sentry installation.uuid, Vercel configuration id).
func (k Keys) Installation(p types.Provider, externalID string) string {
	return k.Prefix + "route:" + string(p) + ":inst:" + externalID
}

// Resource is the key for a provider resource (repository, project, team).
func (k Keys) Resource(p types.Provider, resourceID string) string {
	return k.Prefix + "route:" + string(p) + ":res:" + resourceID
}

// Defaults for Cache.Timeout and Cache.Backoff.
const (
	DefaultTimeout = 200 * time.Millisecond
	DefaultBackoff = time.Second
)

// Conn supplies the Redis client to use now: nil while none is connected yet (platform.Redis, whose
// client appears once Redis first answers).
type Conn interface {
	Client() rueidis.Client
}

// ErrNotConnected is reported (OnError) while the Conn has no client yet.
var ErrNotConnected = errors.New("routing cache: redis not connected")

// fixed is a Conn that always has the same client (or none).
type fixed struct{ c rueidis.Client }

func (f fixed) Client() rueidis.Client { return f.c }

// Cache resolves and maintains routes.
type Cache struct {
	conn    Conn // nil: no Redis configured, every lookup goes to Postgres
	pool    *pgxpool.Pool
	keys    Keys
	OnError func(error) // called with Redis errors (which are otherwise swallowed); may be nil
	// Timeout bounds each Redis call. The client retries on broken connections until its context ends,
	// so without a bound a Redis outage would hang every lookup instead of falling back to Postgres.
	Timeout time.Duration
	// Backoff is how long Redis is skipped after an error, so an outage costs one timeout per Backoff
	// rather than one per request.
	Backoff time.Duration

	downUntil atomic.Int64 // unix nanos before which Redis is skipped
}

// New returns a Cache on a connected client (nil: no cache). prefix namespaces the keys (empty in
// production).
func New(redis rueidis.Client, pool *pgxpool.Pool, prefix string) *Cache {
	var conn Conn
	if redis != nil {
		conn = fixed{redis}
	}
	return NewOn(conn, pool, prefix)
}

// NewOn returns a Cache on a connection that may not have a client yet: until it has, every lookup goes
// to Postgres and the absence is reported through OnError like any Redis error.
func NewOn(conn Conn, pool *pgxpool.Pool, prefix string) *Cache {
	return &Cache{conn: conn, pool: pool, keys: Keys{Prefix: prefix}, Timeout: DefaultTimeout, Backoff: DefaultBackoff}
}

// client returns the Redis client to try now, or nil: none configured, none connected yet (reported),
// or backing off after an error.
func (c *Cache) client() rueidis.Client {
	if c.conn == nil || time.Now().UnixNano() < c.downUntil.Load() {
		return nil
	}
	return c.current()
}

// current returns the client whatever the back-off says (for invalidation), or nil, reporting a
// connection that has none yet.
func (c *Cache) current() rueidis.Client {
	if c.conn == nil {
		return nil
	}
	r := c.conn.Client()
	if r == nil {
		c.report(ErrNotConnected)
	}
	return r
}

// Ping checks that Redis answers (for health reports).
func (c *Cache) Ping(ctx context.Context) error {
	if c.conn == nil {
		return errors.New("routing cache: no redis configured")
	}
	r := c.conn.Client()
	if r == nil {
		return ErrNotConnected
	}
	return r.Do(ctx, r.B().Ping().Build()).Error()
}

// redisCtx bounds one Redis call.
func (c *Cache) redisCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.Timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.Timeout)
}

// Keys returns the key scheme.
func (c *Cache) Keys() Keys { return c.keys }

// ResolveInstallation returns the active installation with this provider external id.
func (c *Cache) ResolveInstallation(ctx context.Context, p types.Provider, externalID string) (string, Source, error) {
	return c.resolve(ctx, c.keys.Installation(p, externalID), func(q *dbq.Queries) (string, error) {
		return q.ResolveInstallationByExternalID(ctx, dbq.ResolveInstallationByExternalIDParams{Provider: p, ExternalID: externalID})
	})
}

// ResolveResource returns the active installation that owns an active provider resource.
func (c *Cache) ResolveResource(ctx context.Context, p types.Provider, resourceID string) (string, Source, error) {
	return c.resolve(ctx, c.keys.Resource(p, resourceID), func(q *dbq.Queries) (string, error) {
		return q.ResolveResource(ctx, dbq.ResolveResourceParams{Provider: p, ProviderResourceID: resourceID})
	})
}

// RefreshInstallation is ResolveInstallation from Postgres alone, for a cached route the database
// contradicted (it named an installation the database does not have: a second database behind the same
// Redis, a restore). The cache entry is corrected: rewritten with the database's answer, or dropped when
// there is no route.
func (c *Cache) RefreshInstallation(ctx context.Context, p types.Provider, externalID string) (string, error) {
	return c.refresh(ctx, c.keys.Installation(p, externalID), func(q *dbq.Queries) (string, error) {
		return q.ResolveInstallationByExternalID(ctx, dbq.ResolveInstallationByExternalIDParams{Provider: p, ExternalID: externalID})
	})
}

// RefreshResource is RefreshInstallation for a route by resource id.
func (c *Cache) RefreshResource(ctx context.Context, p types.Provider, resourceID string) (string, error) {
	return c.refresh(ctx, c.keys.Resource(p, resourceID), func(q *dbq.Queries) (string, error) {
		return q.ResolveResource(ctx, dbq.ResolveResourceParams{Provider: p, ProviderResourceID: resourceID})
	})
}

func (c *Cache) refresh(ctx context.Context, key string, fromDB func(*dbq.Queries) (string, error)) (string, error) {
	id, err := fromDB(dbq.New(c.pool))
	if err != nil && !db.IsNotFound(err) {
		return "", fmt.Errorf("resolve route: %w", err)
	}
	// The wrong entry goes first, whatever the back-off says (like every invalidation); the right one is
	// then cached like any route found in the database.
	c.del(ctx, key)
	if err != nil {
		return "", nil // no route
	}
	c.set(ctx, key, id)
	return id, nil
}

func (c *Cache) resolve(ctx context.Context, key string, fromDB func(*dbq.Queries) (string, error)) (string, Source, error) {
	if r := c.client(); r != nil {
		rctx, cancel := c.redisCtx(ctx)
		id, err := r.Do(rctx, r.B().Get().Key(key).Build()).ToString()
		cancel()
		switch {
		case err == nil && id != "":
			return id, FromCache, nil
		case err != nil && !rueidis.IsRedisNil(err):
			c.report(err)
		}
	}
	id, err := fromDB(dbq.New(c.pool))
	if err != nil {
		if db.IsNotFound(err) {
			return "", NotFound, nil
		}
		return "", NotFound, fmt.Errorf("resolve route: %w", err)
	}
	c.set(ctx, key, id)
	return id, FromDB, nil
}

// PutInstallation caches a route by installation external id. Call it after the write is committed.
func (c *Cache) PutInstallation(ctx context.Context, p types.Provider, externalID, installationID string) {
	c.set(ctx, c.keys.Installation(p, externalID), installationID)
}

// PutResource caches a route by resource id. Call it after the write is committed.
func (c *Cache) PutResource(ctx context.Context, p types.Provider, resourceID, installationID string) {
	c.set(ctx, c.keys.Resource(p, resourceID), installationID)
}

// DropInstallation removes the installation's route and its resources' routes.
func (c *Cache) DropInstallation(ctx context.Context, p types.Provider, externalID string, resourceIDs ...string) {
	keys := []string{c.keys.Installation(p, externalID)}
	for _, r := range resourceIDs {
		keys = append(keys, c.keys.Resource(p, r))
	}
	c.del(ctx, keys...)
}

// DropResource removes one resource route.
func (c *Cache) DropResource(ctx context.Context, p types.Provider, resourceID string) {
	c.del(ctx, c.keys.Resource(p, resourceID))
}

// RebuildCounts is what Rebuild wrote.
type RebuildCounts struct {
	Installations int `json:"installations"`
	Resources     int `json:"resources"`
}

// Rebuild writes every active route from Postgres into Redis (after a Redis restart or flush).
func (c *Cache) Rebuild(ctx context.Context) (RebuildCounts, error) {
	var counts RebuildCounts
	if c.conn == nil {
		return counts, errors.New("rebuild routes: no redis configured")
	}
	r := c.conn.Client()
	if r == nil {
		return counts, fmt.Errorf("rebuild routes: %w", ErrNotConnected)
	}
	rows, err := c.pool.Query(ctx, `
		SELECT i.provider, 'inst', i.external_id, i.id FROM lightfast_gw_installations i WHERE i.status = 'active'
		UNION ALL
		SELECT i.provider, 'res', r.provider_resource_id, i.id
		FROM lightfast_gw_resources r JOIN lightfast_gw_installations i ON i.id = r.installation_id
		WHERE r.status = 'active' AND i.status = 'active'`)
	if err != nil {
		return counts, fmt.Errorf("rebuild routes: %w", err)
	}
	defer rows.Close()
	var cmds rueidis.Commands
	for rows.Next() {
		var provider, kind, externalID, installationID string
		if err := rows.Scan(&provider, &kind, &externalID, &installationID); err != nil {
			return counts, fmt.Errorf("rebuild routes: %w", err)
		}
		key := c.keys.Resource(types.Provider(provider), externalID)
		if kind == "inst" {
			key = c.keys.Installation(types.Provider(provider), externalID)
			counts.Installations++
		} else {
			counts.Resources++
		}
		cmds = append(cmds, r.B().Set().Key(key).Value(installationID).Ex(TTL).Build())
	}
	if err := rows.Err(); err != nil {
		return counts, fmt.Errorf("rebuild routes: %w", err)
	}
	for _, res := range r.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return counts, fmt.Errorf("rebuild routes: redis: %w", err)
		}
	}
	return counts, nil
}

func (c *Cache) set(ctx context.Context, key, value string) {
	r := c.client()
	if r == nil {
		return
	}
	rctx, cancel := c.redisCtx(ctx)
	defer cancel()
	if err := r.Do(rctx, r.B().Set().Key(key).Value(value).Ex(TTL).Build()).Error(); err != nil {
		c.report(err)
	}
}

func (c *Cache) del(ctx context.Context, keys ...string) {
	// Invalidation is attempted even while Redis is thought to be down: a stale route must not survive
	// by accident. The TTL bounds what a failed delete leaves behind.
	if len(keys) == 0 {
		return
	}
	r := c.current()
	if r == nil {
		return
	}
	rctx, cancel := c.redisCtx(ctx)
	defer cancel()
	if err := r.Do(rctx, r.B().Del().Key(keys...).Build()).Error(); err != nil {
		c.report(err)
	}
}

func (c *Cache) report(err error) {
	if c.Backoff > 0 {
		c.downUntil.Store(time.Now().Add(c.Backoff).UnixNano())
	}
	if c.OnError != nil {
		c.OnError(err)
	}
}
