package vault_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/gatewaytest"
	"github.com/lightfastai/connections/gateway/internal/vault"
)

// The refresh-ahead job runs through River as cmd/gateway wires it: worker and periodic job on queue
// gateway, run at start.
func TestRefreshAheadRunsAsPeriodicRiverJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := gatewaytest.Start(t)
	id := g.Connect(t, types.GitHub, "org_a", "user_1")
	setExpiry(t, g, id, time.Now().Add(10*time.Minute))
	version := tokenRow(t, g, id).Version

	workers := river.NewWorkers()
	vault.Register(workers, g.Vault)
	client, err := river.NewClient[pgx.Tx](riverpgxv5.New(g.Pool), &river.Config{
		Workers:      workers,
		Queues:       map[string]river.QueueConfig{jobs.QueueGateway: {MaxWorkers: 2}},
		PeriodicJobs: vault.PeriodicJobs(),
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	})

	require.Eventually(t, func() bool { return tokenRow(t, g, id).Version > version }, 20*time.Second, 50*time.Millisecond)
	require.True(t, tokenRow(t, g, id).ExpiresAt.After(time.Now().Add(50*time.Minute)))
}
