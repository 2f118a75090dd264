package main_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/stretchr/testify/require"
)

// CPU accounting for the benchmarks and load tests: what the console, the gateway and Postgres spend
// per delivery, read from /proc.

// pgSnapshot is the CPU ticks of this database's Postgres processes at one moment.
type pgSnapshot map[int]int64

func pgTicks(t testing.TB, pool *pgxpool.Pool) pgSnapshot {
	s := pgSnapshot{}
	for _, p := range postgresPids(t, pool) {
		s[p] = testproc.CPUTicks(p)
	}
	return s
}

// since is the CPU the database's Postgres processes spent after s was taken, counting backends that
// connected since (pools grow under load) from zero.
func (s pgSnapshot) since(t testing.TB, pool *pgxpool.Pool) int64 {
	var n int64
	for p, ticks := range pgTicks(t, pool) {
		n += ticks - s[p]
	}
	return n
}

// postgresPids are the backends of this test's database plus the shared WAL writer, checkpointer and
// background writer; other databases on the server (other suites) are left out.
func postgresPids(t testing.TB, pool *pgxpool.Pool) []int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT pid FROM pg_stat_activity
		WHERE (datname = current_database() AND pid <> pg_backend_pid())
		   OR backend_type IN ('walwriter', 'checkpointer', 'background writer')`)
	require.NoError(t, err)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	require.NoError(t, err)
	out := make([]int, len(pids))
	for i, p := range pids {
		out[i] = int(p)
	}
	return out
}
