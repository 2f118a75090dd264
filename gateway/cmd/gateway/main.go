// Command gateway is the edge of the Lightfast connections platform: provider connect flows, the token
// vault, webhook receipt and the admin API. `gateway serve` runs it.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/migrations"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/gateway/internal/admin"
	"github.com/lightfastai/connections/gateway/internal/apikey"
	"github.com/lightfastai/connections/gateway/internal/config"
	"github.com/lightfastai/connections/gateway/internal/connect"
	"github.com/lightfastai/connections/gateway/internal/lifecycle"
	"github.com/lightfastai/connections/gateway/internal/providers"
	"github.com/lightfastai/connections/gateway/internal/retention"
	"github.com/lightfastai/connections/gateway/internal/stranded"
	"github.com/lightfastai/connections/gateway/internal/vault"
	"github.com/lightfastai/connections/gateway/internal/webhook"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 1 && args[0] == "healthcheck" {
		return platform.Healthcheck(ctx, platform.OSEnv().String("GATEWAY_ADDR", ":4110"))
	}
	if len(args) == 0 || args[0] != "serve" {
		return errors.New("usage: gateway serve | gateway healthcheck")
	}
	cfg, err := config.Load(platform.OSEnv())
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	log, err := platform.NewLogger("gateway", cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	platform.LogConfig(log, cfg)
	// Webhook ingest allocates a body per delivery over a small live heap, so Go's default GOGC=100
	// collects every few MB and the GC becomes a large share of the CPU per delivery; 400 trades a few
	// tens of MB for roughly a tenth less CPU per delivery (scripts/bench.sh). GOGC in the environment
	// still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if cfg.PprofAddr != "" {
		go servePprof(ctx, cfg.PprofAddr, log)
	}

	// Postgres is reached and its schema checked, and Redis dialled, in the background while the rest
	// is wired: those round trips overlap the wiring's CPU work, and are joined before the service
	// listens.
	pool, err := db.New(ctx, cfg.DatabaseURL.Reveal(), db.PoolOptions{Pooler: cfg.DatabasePooler, AppName: "gateway", MaxConns: 16})
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
	// Redis is a cache: unreachable at start, the gateway still starts, routes through Postgres and
	// takes Redis into use once it answers.
	redis, err := platform.NewRedis(ctx, cfg.RedisURL.Reveal(), log)
	if err != nil {
		return err
	}
	defer redis.Close()

	routes := routing.NewOn(redis, pool, "")
	routes.OnError = func(err error) { log.Warn("routing cache unavailable; using the database", zap.Error(err)) }
	apiKey := apikey.New(cfg.APIKeys).Middleware("X-API-Key")
	clients := connect.NewClients(cfg, providers.NewHTTPClient())
	tokenVault := vault.New(pool, cfg.Keyring, clients.Refreshers(), vault.DefaultCacheTTL, log)
	connector := connect.New(connect.Options{
		PublicURL: cfg.PublicURL, ConsoleURL: cfg.ConsoleURL,
		SecureCookies: cfg.AppEnv != "development" && cfg.AppEnv != "test",
		Revoked:       tokenVault.Forget,
	}, pool, cfg.Keyring, routes, clients.Flows(cfg.PublicURL), log)

	reg := platform.NewRegistry()
	// River workers and periodic jobs on queue gateway: each feature registers its own, one line each.
	workers := river.NewWorkers()
	var periodic []*river.PeriodicJob
	vault.Register(workers, tokenVault)
	periodic = append(periodic, vault.PeriodicJobs()...)
	connect.Register(workers, connector)
	periodic = append(periodic, connect.PeriodicJobs()...)
	lifecycle.Register(workers, pool, routes, log)
	retention.Register(workers, pool, retention.Policy{PayloadRetention: cfg.DeliveryPayloadRetention, RowRetention: cfg.DeliveryRetention}, log)
	periodic = append(periodic, retention.PeriodicJobs()...)
	stranded.Register(workers, pool, cfg.JobRescueAfter+stranded.GraceAfterRescue, reg, log)
	periodic = append(periodic, stranded.PeriodicJobs()...)
	// The console's kinds too, never worked here: so that, as River leader, this client rescues the
	// console's stuck jobs instead of discarding them.
	if err := jobs.AddConsoleKinds(workers); err != nil {
		return err
	}

	riverClient, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), &river.Config{
		Logger:               platform.SlogFromZap(log),
		PollOnly:             cfg.DatabasePooler == db.PoolerTransaction,
		RescueStuckJobsAfter: cfg.JobRescueAfter,
		// River refuses a rescue time below the job timeout (a JOB_RESCUE_AFTER under a minute would stop
		// the gateway at start); a job still running at its rescue time is presumed dead anyway.
		JobTimeout: min(river.JobTimeoutDefault, cfg.JobRescueAfter),
		// The gateway inserts webhook.process jobs that only the console works; without this River refuses
		// to insert a kind that has no worker here.
		SkipUnknownJobCheck: true,
		Workers:             workers,
		Queues:              map[string]river.QueueConfig{jobs.QueueGateway: {MaxWorkers: 4}},
		PeriodicJobs:        periodic,
	})
	if err != nil {
		return fmt.Errorf("river: %w", err)
	}
	e := platform.NewEcho(log, platform.NewHTTPMetrics(reg))
	// Readiness is Postgres and the schema only: without Redis the gateway serves (GET /admin/health
	// reports it).
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

	connector.Mount(e, apiKey)
	hooks := webhook.Start(cfg, webhook.Deps{Pool: pool, Routes: routes, Jobs: riverClient, Keyring: cfg.Keyring, Registry: reg, Log: log})
	defer func() { _ = hooks.Stop(context.WithoutCancel(ctx)) }() // after the server drained: commit what is queued
	hooks.Mount(e)
	admin.New(pool, routes, riverClient, reg, log).Mount(e, apikey.New(cfg.AdminKeys).Middleware("X-Admin-Key"))
	tokenVault.Mount(e, apiKey)

	if err := databaseChecked(); err != nil {
		return err
	}
	<-redis.FirstAttempt() // so a healthy Redis serves from the first request
	riverStart.Start(ctx)
	return platform.Serve(ctx, platform.NewServer(e, webhook.ServerLimits(cfg)), cfg.Addr, cfg.ShutdownGrace, log)
}
