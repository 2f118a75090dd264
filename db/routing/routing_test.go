package routing_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/routing"
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
