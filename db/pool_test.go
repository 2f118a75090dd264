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

// TestSessionSettingsYieldToTheURL: the service's application_name and session settings reach Postgres,
// unless the URL sets them; behind a transaction pooler the settings are not sent at all.
func TestSessionSettingsYieldToTheURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDatabaseURL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	show := func(url string, opts db.PoolOptions) (app, seqscan string) {
		pool, err := db.Open(ctx, url, opts)
		require.NoError(t, err)
		defer pool.Close()
		require.NoError(t, pool.QueryRow(ctx, `SELECT current_setting('application_name'), current_setting('enable_seqscan')`).Scan(&app, &seqscan))
		return app, seqscan
	}
	opts := db.PoolOptions{AppName: "console", Settings: map[string]string{"enable_seqscan": "off"}}
	app, seqscan := show(url, opts)
	require.Equal(t, "console", app)
	require.Equal(t, "off", seqscan)

	app, seqscan = show(url+sep+"application_name=replica-2&enable_seqscan=on", opts)
	require.Equal(t, "replica-2", app)
	require.Equal(t, "on", seqscan)

	opts.Pooler = db.PoolerTransaction
	app, seqscan = show(url, opts)
	require.Equal(t, "console", app)
	require.Equal(t, "on", seqscan)
}
