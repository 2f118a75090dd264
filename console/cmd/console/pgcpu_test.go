//go:build loadtest

package main_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/stretchr/testify/require"
)

// Postgres CPU by who spent it: the gateway's backends (receiving), the console's (processing), the
// server's shared processes (WAL writer, checkpointer, background writer, autovacuum) and the rest of
// this database's backends (the test's own queries). Backends are told apart by application_name, which
// each service sets for its pool (db.PoolOptions.AppName).

// pgClass is who a Postgres process works for.
type pgClass string

const (
	pgGateway pgClass = "gateway"
	pgConsole pgClass = "console"
	pgShared  pgClass = "shared"
	pgOther   pgClass = "other"
)

// pgCPU samples the CPU ticks of Postgres processes while a load runs. Backends come and go (pools grow,
// autovacuum workers are short-lived), so it samples periodically and keeps the last ticks seen per pid;
// a process that exits between samples loses at most one interval of its CPU.
type pgCPU struct {
	pool  *pgxpool.Pool
	mu    sync.Mutex
	class map[int]pgClass
	first map[int]int64 // ticks when first seen (0 for a process started after the first sample)
	last  map[int]int64
	stop  chan struct{}
	done  chan struct{}
}

// startPgCPU takes the first sample and keeps sampling every interval until stopped.
func startPgCPU(t testing.TB, pool *pgxpool.Pool, interval time.Duration) *pgCPU {
	t.Helper()
	c := &pgCPU{pool: pool, class: map[int]pgClass{}, first: map[int]int64{}, last: map[int]int64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	require.NoError(t, c.sample(true))
	go func() {
		defer close(c.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-tick.C:
				_ = c.sample(false) // a failed sample only loses resolution
			}
		}
	}()
	return c
}

func (c *pgCPU) sample(initial bool) error {
	rows, err := c.pool.Query(context.Background(), `
		SELECT pid, CASE
		         WHEN backend_type IN ('walwriter', 'checkpointer', 'background writer', 'autovacuum launcher', 'autovacuum worker') THEN 'shared'
		         WHEN application_name = 'gateway' THEN 'gateway'
		         WHEN application_name = 'console' THEN 'console'
		         ELSE 'other' END
		FROM pg_stat_activity
		WHERE (datname = current_database() AND pid <> pg_backend_pid())
		   OR backend_type IN ('walwriter', 'checkpointer', 'background writer', 'autovacuum launcher', 'autovacuum worker')`)
	if err != nil {
		return err
	}
	defer rows.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	for rows.Next() {
		var pid int32
		var class string
		if err := rows.Scan(&pid, &class); err != nil {
			return err
		}
		p, ticks := int(pid), testproc.CPUTicks(int(pid))
		if _, seen := c.class[p]; !seen {
			c.class[p] = pgClass(class)
			if initial {
				c.first[p] = ticks
			}
		}
		if ticks >= c.last[p] {
			c.last[p] = ticks
		}
	}
	return rows.Err()
}

// finish takes a last sample and returns the ticks each class spent since the first.
func (c *pgCPU) finish(t testing.TB) map[pgClass]int64 {
	t.Helper()
	close(c.stop)
	<-c.done
	require.NoError(t, c.sample(false))
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[pgClass]int64{}
	for p, class := range c.class {
		out[class] += c.last[p] - c.first[p]
	}
	return out
}
