// Command benchready is the reference for the services' exec → ready benchmarks (issue #16): the least
// a service of this platform must do before it can serve — open a pgx pool and ping Postgres, open a
// rueidis client (which dials Redis), listen — and nothing else. GET /readyz answers 200 while Postgres
// answers a ping. The services' start is measured as a ratio to this program's, started alternately in
// the same benchmark (db/testproc.BenchmarkExecToReady).
//
// Environment: DATABASE_URL, REDIS_URL, ADDR (host:port to listen on).
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/rueidis"

	"github.com/lightfastai/connections/db"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "benchready:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	pool, err := db.Open(ctx, os.Getenv("DATABASE_URL"), db.PoolOptions{AppName: "benchready"})
	if err != nil {
		return err
	}
	defer pool.Close()
	// The options the services use (platform.OpenRedis); NewClient dials and asks the server what it is.
	opt, err := rueidis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.DisableCache = true
	redis, err := rueidis.NewClient(opt)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	defer redis.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := pool.Ping(r.Context()); err != nil {
			http.Error(w, "postgres", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	srv := &http.Server{Addr: os.Getenv("ADDR"), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
