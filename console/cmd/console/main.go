// Command console is the product back end of the Lightfast connections platform: the Connect API, the
// connect-flow pages and the workers that turn deliveries into observations. `console serve` runs it.
package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/api"
	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/console/internal/backfill"
	"github.com/lightfastai/connections/console/internal/config"
	"github.com/lightfastai/connections/console/internal/observations"
	"github.com/lightfastai/connections/console/internal/providerapi"
	"github.com/lightfastai/connections/console/internal/worker"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/migrations"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/routing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "console:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: console serve | console dev-token --user U --org O --role R")
	}
	switch args[0] {
	case "serve":
		return serve(ctx)
	case "dev-token":
		return devToken(args[1:], platform.OSEnv(), os.Stdout)
	case "healthcheck":
		return platform.Healthcheck(ctx, platform.OSEnv().String("CONSOLE_ADDR", ":4107"))
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func serve(ctx context.Context) error {
	cfg, err := config.Load(platform.OSEnv())
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log, err := platform.NewLogger("console", cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	platform.LogConfig(log, cfg)

	// Postgres is reached and its schema checked, and Redis dialled, in the background while the rest
	// is wired: those round trips overlap the wiring's CPU work, and are joined before the service
	// listens.
	pool, err := db.New(ctx, cfg.DatabaseURL.Reveal(), db.PoolOptions{
		Pooler: cfg.DatabasePooler, AppName: "console", MaxConns: 24,
		// Postgres settles on a generic plan for a prepared statement after five runs and keeps it until the
		// table is next analyzed, so one made while a table was still small scans it sequentially for good:
		// on a fresh database without autovacuum that made each delivery batch read every earlier job and
		// delivery (River's JobSetStateIfRunningMany, LockDeliveriesForProcessing, SetDeliveryStatuses), and
		// the cost per delivery grew with the table. Custom plans cost ~70 µs of planning per delivery and
		// never go stale. (enable_seqscan=off fixed it too, but made a new connection's first query take
		// ~250 ms, which showed as a 300 ms slower start.)
		Settings: map[string]string{"plan_cache_mode": "force_custom_plan"},
	})
	if err != nil {
		return err
	}
	defer pool.Close()
	// The default size yields to pool_max_conns in DATABASE_URL; say which one is in force.
	log.Info("database pool", zap.Int32("max_conns", pool.Config().MaxConns))
	databaseChecked := platform.InBackground(func() error {
		if err := db.Ping(ctx, pool); err != nil {
			return err
		}
		return migrations.Check(ctx, pool) // main prints it: one line saying the schema is behind
	})
	// Redis is a cache: unreachable at start, the console still starts and serves (routing writes are
	// skipped, the gateway finds routes in Postgres) and takes Redis into use once it answers.
	redis, err := platform.NewRedis(ctx, cfg.RedisURL.Reveal(), log)
	if err != nil {
		return err
	}
	defer redis.Close()

	reg := platform.NewRegistry()
	routes := routing.NewOn(redis, pool, "")
	cacheErrors := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "console_routing_cache_errors_total",
		Help: "Redis errors while writing or dropping routes (each was skipped; the gateway falls back to Postgres).",
	})
	reg.MustRegister(cacheErrors)
	routes.OnError = func(err error) {
		cacheErrors.Inc()
		log.Warn("routing cache unavailable; skipped", zap.Error(err))
	}
	providers := providerapi.New(providerapi.Config{
		GitHubAPIURL: cfg.GitHubAPIURL, VercelAPIURL: cfg.VercelAPIURL, LinearAPIURL: cfg.LinearAPIURL, SentryURL: cfg.SentryURL,
	})

	// River workers on queues webhooks, sync and backfill: each feature registers its own, one line each.
	workers := river.NewWorkers()
	queues := map[string]river.QueueConfig{}
	if err := worker.Register(workers, worker.Deps{
		Pool: pool, Keyring: cfg.Keyring, GitHub: providers.GitHub, Metrics: worker.NewMetrics(reg), Log: log,
	}); err != nil {
		return err
	}
	maps.Copy(queues, worker.Queues(worker.DefaultWebhookWorkers))
	if err := backfill.Register(workers, queues, backfill.NewWorker(pool, cfg.Keyring, providers, log, backfill.Config{RunTimeout: cfg.JobRescueAfter})); err != nil {
		return err
	}
	// The gateway's kinds too, never worked here: so that, as River leader, this client rescues the
	// gateway's stuck jobs instead of discarding them.
	if err := jobs.AddGatewayKinds(workers); err != nil {
		return err
	}

	riverClient, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{
		Logger:               platform.SlogFromZap(log),
		PollOnly:             cfg.DatabasePooler == db.PoolerTransaction,
		RescueStuckJobsAfter: cfg.JobRescueAfter,
		// River refuses a rescue time below the job timeout; a job still running at its rescue time is
		// presumed dead anyway.
		JobTimeout: min(river.JobTimeoutDefault, cfg.JobRescueAfter),
		Workers:    workers,
		Queues:     queues,
	})
	if err != nil {
		return fmt.Errorf("river: %w", err)
	}
	e := platform.NewEcho(log, platform.NewHTTPMetrics(reg))
	// Readiness is Postgres and the schema only: Redis is a cache.
	ready := platform.MountHealth(e, reg, log, platform.PostgresCheck(pool), platform.SchemaCheck(pool))
	// River starts (armed right before listening) once the service is ready: readiness is Postgres and
	// the schema, River's own start several round trips more and, as leader, a dozen maintenance
	// queries. It is retried if it fails, and outlives ctx so in-flight jobs can finish during the
	// graceful stop below.
	riverStart := platform.AfterReady(ready, log, "river", func() error {
		return riverClient.Start(context.WithoutCancel(ctx))
	})
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace)
		defer cancel()
		if !riverStart.Wait(stopCtx) {
			return // never started (or still starting when the grace ran out): nothing to stop
		}
		if err := riverClient.Stop(stopCtx); err != nil {
			log.Warn("river stop", zap.Error(err))
		}
	}()

	apiDeps := api.Deps{
		Pool: pool, Routes: routes, Keyring: cfg.Keyring, Providers: providers, River: riverClient,
		GatewayPublicURL: cfg.GatewayPublicURL, Log: log,
		Verifier: auth.NewVerifier(auth.Config{
			JWKSURL: cfg.AuthJWKSURL, Issuer: cfg.AuthIssuer, DevSecret: cfg.AuthDevSecret.Reveal(), Production: cfg.Production(),
		}),
		M2MKeys:      auth.M2MKeysFromSecrets(cfg.M2MAPIKeys),
		Observations: observations.New(pool),
	}
	apiRoutes := api.Routes(apiDeps)
	api.MountRoutes(e, apiRoutes)
	if err := mountPages(e, cfg, apiRoutes, apiDeps.Verifier, log); err != nil {
		return err
	}

	srv := platform.NewServer(e, platform.DefaultServerLimits())
	// h2c beside HTTP/1.1: the API answers plain gRPC clients as well as Connect and gRPC-Web.
	platform.UnencryptedHTTP2(srv)
	if err := databaseChecked(); err != nil {
		return err
	}
	<-redis.FirstAttempt() // so a healthy Redis serves from the first request
	riverStart.Start(ctx)
	return platform.Serve(ctx, srv, cfg.Addr, cfg.ShutdownGrace, log)
}
