package routing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
)

func TestResolveFallsBackToDBAndFillsCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	redis, prefix := dbtest.Redis(t)
	cache := routing.New(redis, pool, prefix)
	q := dbq.New(pool)

	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.GitHub, ExternalID: "4242", ConnectedBy: "u", OrgID: "o",
		ProviderAccountInfo: types.NewGitHubAccountInfo(types.GitHubAccountInfo{}),
	})
	require.NoError(t, err)
	_, err = q.UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: inst.ID, ProviderResourceID: "99"})
	require.NoError(t, err)

	id, src, err := cache.ResolveInstallation(ctx, types.GitHub, "4242")
	require.NoError(t, err)
	require.Equal(t, inst.ID, id)
	require.Equal(t, routing.FromDB, src)
	id, src, err = cache.ResolveInstallation(ctx, types.GitHub, "4242")
	require.NoError(t, err)
	require.Equal(t, inst.ID, id)
	require.Equal(t, routing.FromCache, src)

	id, src, err = cache.ResolveResource(ctx, types.GitHub, "99")
	require.NoError(t, err)
	require.Equal(t, inst.ID, id)
	require.Equal(t, routing.FromDB, src)

	_, src, err = cache.ResolveResource(ctx, types.Vercel, "99")
	require.NoError(t, err)
	require.Equal(t, routing.NotFound, src, "routes are per provider")

	cache.DropInstallation(ctx, types.GitHub, "4242", "99")
	_, src, err = cache.ResolveResource(ctx, types.GitHub, "99")
	require.NoError(t, err)
	require.Equal(t, routing.FromDB, src, "dropped entries miss the cache")

	_, err = q.SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: inst.ID, Status: "revoked"})
	require.NoError(t, err)
	cache.DropInstallation(ctx, types.GitHub, "4242", "99")
	_, src, err = cache.ResolveInstallation(ctx, types.GitHub, "4242")
	require.NoError(t, err)
	require.Equal(t, routing.NotFound, src, "a revoked installation does not route")
}

func TestRedisDownIsAMiss(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	redis, prefix := dbtest.Redis(t)
	cache := routing.New(redis, pool, prefix)
	var redisErrors int
	cache.OnError = func(error) { redisErrors++ }
	q := dbq.New(pool)
	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.Linear, ExternalID: "org-1", ConnectedBy: "u", OrgID: "o",
		ProviderAccountInfo: types.NewLinearAccountInfo(types.LinearAccountInfo{OrganizationID: "org-1"}),
	})
	require.NoError(t, err)

	redis.Close() // every command now fails
	id, src, err := cache.ResolveInstallation(ctx, types.Linear, "org-1")
	require.NoError(t, err)
	require.Equal(t, inst.ID, id)
	require.Equal(t, routing.FromDB, src)
	require.Positive(t, redisErrors)
}

func TestRebuild(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	redis, prefix := dbtest.Redis(t)
	cache := routing.New(redis, pool, prefix)
	q := dbq.New(pool)
	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.Sentry, ExternalID: "uuid-1", ConnectedBy: "u", OrgID: "o",
		ProviderAccountInfo: types.NewSentryAccountInfo(types.SentryAccountInfo{InstallationUUID: "uuid-1"}),
	})
	require.NoError(t, err)
	for _, r := range []string{"p1", "p2"} {
		_, err = q.UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: inst.ID, ProviderResourceID: r})
		require.NoError(t, err)
	}
	counts, err := cache.Rebuild(ctx)
	require.NoError(t, err)
	require.Equal(t, routing.RebuildCounts{Installations: 1, Resources: 2}, counts)
	_, src, err := cache.ResolveResource(ctx, types.Sentry, "p2")
	require.NoError(t, err)
	require.Equal(t, routing.FromCache, src)
}

// With a connection that has no Redis yet (unreachable since start), every route comes from Postgres,
// writes and drops are skipped without error, the absence is reported (back-off bounds how often), and
// the cache is used by itself once Redis answers.
func TestNoRedisYetIsAMissUntilItAppears(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	server := testproc.NewRedis(t)
	conn, err := platform.OpenRedis(ctx, server.URL(), zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	cache := routing.NewOn(conn, pool, "")
	cache.Backoff = 50 * time.Millisecond
	var mu sync.Mutex
	var reported []error
	cache.OnError = func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }
	inst, err := dbq.New(pool).UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.GitHub, ExternalID: "77", ConnectedBy: "u", OrgID: "o",
		ProviderAccountInfo: types.NewGitHubAccountInfo(types.GitHubAccountInfo{}),
	})
	require.NoError(t, err)

	for range 3 {
		id, src, err := cache.ResolveInstallation(ctx, types.GitHub, "77")
		require.NoError(t, err)
		require.Equal(t, inst.ID, id)
		require.Equal(t, routing.FromDB, src)
	}
	cache.PutResource(ctx, types.GitHub, "r1", inst.ID)
	cache.DropInstallation(ctx, types.GitHub, "77")
	_, err = cache.Rebuild(ctx)
	require.ErrorIs(t, err, routing.ErrNotConnected)
	require.ErrorIs(t, cache.Ping(ctx), routing.ErrNotConnected)
	mu.Lock()
	require.NotEmpty(t, reported)
	for _, e := range reported {
		require.ErrorIs(t, e, routing.ErrNotConnected)
	}
	mu.Unlock()

	server.Start()
	require.Eventually(t, func() bool {
		_, src, err := cache.ResolveInstallation(ctx, types.GitHub, "77")
		require.NoError(t, err)
		return src == routing.FromCache
	}, 15*time.Second, 20*time.Millisecond, "the route is cached, then served from Redis, without a new Cache")
	require.NoError(t, cache.Ping(ctx))
	counts, err := cache.Rebuild(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, counts.Installations)
}

// A route the database contradicts is corrected by a refresh: rewritten with the database's answer, or
// dropped when the database has none.
func TestRefreshCorrectsTheCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	redis, prefix := dbtest.Redis(t)
	cache := routing.New(redis, pool, prefix)
	q := dbq.New(pool)
	inst, err := q.UpsertInstallation(ctx, dbq.UpsertInstallationParams{
		ID: ids.New(), Provider: types.Vercel, ExternalID: "icfg_9", ConnectedBy: "u", OrgID: "o",
		ProviderAccountInfo: types.NewVercelAccountInfo(types.VercelAccountInfo{}),
	})
	require.NoError(t, err)
	_, err = q.UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: inst.ID, ProviderResourceID: "prj_9"})
	require.NoError(t, err)
	get := func(key string) (string, error) {
		return redis.Do(ctx, redis.B().Get().Key(key).Build()).ToString()
	}
	keys := cache.Keys()
	for _, key := range []string{keys.Installation(types.Vercel, "icfg_9"), keys.Resource(types.Vercel, "prj_9"),
		keys.Installation(types.Vercel, "icfg_gone"), keys.Resource(types.Vercel, "prj_gone")} {
		require.NoError(t, redis.Do(ctx, redis.B().Set().Key(key).Value("inst_from_another_database").Build()).Error())
	}

	id, err := cache.RefreshInstallation(ctx, types.Vercel, "icfg_9")
	require.NoError(t, err)
	require.Equal(t, inst.ID, id)
	v, err := get(keys.Installation(types.Vercel, "icfg_9"))
	require.NoError(t, err)
	require.Equal(t, inst.ID, v)

	id, err = cache.RefreshResource(ctx, types.Vercel, "prj_9")
	require.NoError(t, err)
	require.Equal(t, inst.ID, id)
	v, err = get(keys.Resource(types.Vercel, "prj_9"))
	require.NoError(t, err)
	require.Equal(t, inst.ID, v)

	for _, refresh := range []func() (string, error){
		func() (string, error) { return cache.RefreshInstallation(ctx, types.Vercel, "icfg_gone") },
		func() (string, error) { return cache.RefreshResource(ctx, types.Vercel, "prj_gone") },
	} {
		id, err := refresh()
		require.NoError(t, err)
		require.Empty(t, id)
	}
	for _, key := range []string{keys.Installation(types.Vercel, "icfg_gone"), keys.Resource(types.Vercel, "prj_gone")} {
		_, err := get(key)
		require.True(t, rueidis.IsRedisNil(err), "the wrong entry is dropped: %v", err)
	}
}
