package worker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/worker"
	"github.com/lightfastai/connections/db/types"
)

// pushes returns n push payloads for repository repo, each a distinct fact (its own head sha).
func pushes(t *testing.T, repo string, n, offset int) [][]byte {
	t.Helper()
	fx := fixture(t, "github/push/with-new-branch.payload.json")
	var out [][]byte
	for i := range n {
		p := bytes.ReplaceAll(fx, []byte("6113728f27ae82c7b1a177c8d03f9e96e0adf246"), fmt.Appendf(nil, "%040x", offset+i+1))
		out = append(out, bytes.Replace(p, []byte(`"id": 186853002`), []byte(`"id": `+repo), 1))
	}
	return out
}

func TestConcurrentDeliveriesShareTransactionsAndStayExact(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	var ds []delivery
	integrations := map[string]string{}
	for _, repo := range []string{"11", "12", "13"} {
		integrations[repo] = b.integrate(t, tn, b.workspace(t, tn, "ws"+repo), types.GitHub, repo, nil, nil).ID
		for _, p := range pushes(t, repo, 100, 0) {
			ds = append(ds, delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: repo, payload: p})
		}
	}
	// The same fact delivered twice, an unreadable payload and an event nobody takes, all mixed in.
	dup := pushes(t, "11", 1, 0)[0]
	ds = append(ds,
		delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: "11", payload: dup},
		delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: "12", payload: []byte(`{"ref":`)},
		delivery{provider: types.GitHub, event: "ping", installation: tn.installation, resource: "13", payload: []byte(`{}`)},
	)
	deliveryIDs := b.ingestMany(t, ds)
	// A second job for an existing delivery.
	b.requeue(t, deliveryIDs[5])
	b.waitDone(t)

	require.Equal(t, 300, b.countObservations(t))
	for repo, id := range integrations {
		got, err := b.q.GetIntegration(context.Background(), id)
		require.NoError(t, err)
		require.EqualValues(t, 100, got.DocumentCount, repo)
	}
	statuses := map[string]int{}
	for _, id := range deliveryIDs {
		statuses[b.delivery(t, id).Status]++
	}
	require.Equal(t, map[string]int{types.DeliveryDelivered: 301, types.DeliveryDLQ: 1, types.DeliveryIgnored: 1}, statuses)
	bad := b.delivery(t, deliveryIDs[301])
	require.Contains(t, *bad.LastError, "invalid payload")

	// Observations written in one transaction share its now(): fewer distinct times than rows means
	// deliveries were group-committed.
	var txs int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(DISTINCT created_at) FROM lightfast_workspace_observations`).Scan(&txs))
	require.Less(t, txs, 300)
	t.Logf("300 observations in %d transactions", txs)
}

func TestCrashInABatchRollsBackEveryDeliveryOfIt(t *testing.T) {
	t.Parallel()
	var crashes atomic.Int32
	var b *bundle
	b = setup(t, func(ctx context.Context) error {
		if crashes.Load() > 0 {
			return nil
		}
		var n int
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM lightfast_workspace_observations`).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			return fmt.Errorf("uncommitted observations visible: %d", n)
		}
		crashes.Add(1)
		return errors.New("simulated crash before the batch's jobs are completed")
	})
	tn := b.tenant(t, types.GitHub)
	b.integrate(t, tn, tn.workspace, types.GitHub, "21", nil, nil)
	var ds []delivery
	for _, p := range pushes(t, "21", 50, 0) {
		ds = append(ds, delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: "21", payload: p})
	}
	deliveryIDs := b.ingestMany(t, ds)
	b.waitDone(t)

	require.EqualValues(t, 1, crashes.Load())
	require.Equal(t, 50, b.countObservations(t))
	retried := 0
	for _, id := range deliveryIDs {
		d := b.delivery(t, id)
		require.Equal(t, types.DeliveryDelivered, d.Status)
		require.Nil(t, d.LastError)
		if d.Attempts == 2 {
			retried++
		}
	}
	require.Positive(t, retried, "the crashed batch's deliveries were retried")
	require.InDelta(t, float64(retried), b.counter(t, "github", "push", worker.OutcomeFailed), 0)
}

func TestPanicInABatchFailsItsJobsWithoutStrandingAnyone(t *testing.T) {
	t.Parallel()
	var panicked atomic.Bool
	b := setup(t, func(context.Context) error {
		if panicked.CompareAndSwap(false, true) {
			panic("boom")
		}
		return nil
	})
	tn := b.tenant(t, types.GitHub)
	b.integrate(t, tn, tn.workspace, types.GitHub, "31", nil, nil)
	var ds []delivery
	for _, p := range pushes(t, "31", 40, 0) {
		ds = append(ds, delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: "31", payload: p})
	}
	deliveryIDs := b.ingestMany(t, ds)
	b.waitDone(t) // fails if a job waited forever on a batch that panicked

	require.True(t, panicked.Load())
	require.Equal(t, 40, b.countObservations(t))
	for _, id := range deliveryIDs {
		require.Equal(t, types.DeliveryDelivered, b.delivery(t, id).Status)
	}
}
