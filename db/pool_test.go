package db_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbtest"
)

// TestPoolSizeIsTheOperators: a service's default pool size applies only when the database URL does not
// set pool_max_conns itself.
func TestPoolSizeIsTheOperators(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDatabaseURL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	for url, want := range map[string]int32{url: 16, url + sep + "pool_max_conns=3": 3} {
		pool, err := db.Open(ctx, url, db.PoolOptions{MaxConns: 16})
		require.NoError(t, err)
		require.Equal(t, want, pool.Config().MaxConns)
		pool.Close()
	}
	// The keyword/value form is honoured the same way.
	require.True(t, db.SetsPoolMaxConns("host=127.0.0.1 dbname=x pool_max_conns=5"))
	require.False(t, db.SetsPoolMaxConns("host=127.0.0.1 dbname=x"))
}
