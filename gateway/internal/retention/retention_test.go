package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/gateway/internal/retention"
)

func TestApplyKeepsWhatThePolicySays(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	ctx := context.Background()
	now := time.Now()
	day := 24 * time.Hour
	rows := []struct {
		name, status string
		age          time.Duration
		payload, row bool // kept afterwards?
	}{
		{"fresh delivered", "delivered", time.Hour, true, true},
		{"old delivered", "delivered", 8 * day, false, true},
		{"old ignored", "ignored", 8 * day, false, true},
		{"old unrouted", "unrouted", 8 * day, false, true},
		{"old dlq", "dlq", 8 * day, true, true},
		{"old received", "received", 8 * day, true, true},
		{"expired delivered", "delivered", 31 * day, false, false},
		{"expired dlq", "dlq", 31 * day, false, false},
		{"expired received (in flight)", "received", 31 * day, true, true},
	}
	idOf := map[string]string{}
	for _, r := range rows {
		id := ids.New()
		idOf[r.name] = id
		_, err := dbq.New(pool).InsertDeliveries(ctx, dbq.InsertDeliveriesParams{
			Ids: []string{id}, Providers: []string{"github"}, DeliveryIds: []string{id}, EventTypes: []string{"push"},
			InstallationIds: []string{""}, ResourceIds: []string{""}, Statuses: []string{r.status},
			Payloads: [][]byte{[]byte(`{"a":1}`)}, Headers: []string{"{}"},
		})
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `UPDATE lightfast_gw_webhook_deliveries SET received_at = $2 WHERE id = $1`, id, now.Add(-r.age))
		require.NoError(t, err)
	}
	res, err := retention.Apply(ctx, pool, retention.Policy{PayloadRetention: 7 * day, RowRetention: 30 * day}, now)
	require.NoError(t, err)
	require.Equal(t, int64(4), res.PayloadsDropped) // the expired delivered one first loses its payload, then its row
	require.Equal(t, int64(2), res.RowsDeleted)
	for _, r := range rows {
		d, err := dbq.New(pool).GetDelivery(ctx, idOf[r.name])
		if !r.row {
			require.Error(t, err, r.name)
			continue
		}
		require.NoError(t, err, r.name)
		require.Equal(t, r.payload, d.Payload != nil, r.name)
	}
	// A second run finds nothing more to do.
	res, err = retention.Apply(ctx, pool, retention.Policy{PayloadRetention: 7 * day, RowRetention: 30 * day}, now)
	require.NoError(t, err)
	require.Equal(t, retention.Result{}, res)
}
