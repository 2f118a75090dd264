// Command benchref is the set of reference servers the gateway's benchmarks are measured against. Figures
// on these machines swing from one run to the next, so every speed goal is a ratio to a reference measured
// in the same run (issue #16); these programs are those references. `benchref MODE` serves one of:
//
//	hmac    POST /webhooks/github: read the body, verify X-Hub-Signature-256 with the gateway's own
//	        verification code (verify.GitHub), answer 202. No I/O: the floor of HTTP plus verification.
//	insert  the same, then parse the delivery (verify.GitHub), route it with one Redis GET (the gateway's
//	        routing cache, falling back to Postgres on a miss), write the delivery row with ONE
//	        autocommitted INSERT into lightfast_gw_webhook_deliveries, and XADD its id to a Redis stream
//	        (standing in for the job), then answer 202: the straightforward durable receiver.
//	token   GET /connections/{id}/token: the token endpoint's one query (dbq.VaultRead) and AES-GCM
//	        decrypt (db/vault.Decrypt) per request, answered as JSON. No API key check, access log,
//	        metrics or cache: the floor of a token read.
//
// Each answers GET /readyz with 200 once it can serve. Configuration, from the environment:
//
//	BENCHREF_ADDR           listen address (default 127.0.0.1:4199; loopback unless told otherwise)
//	GITHUB_WEBHOOK_SECRET   the webhook secret the signatures are made with (hmac, insert)
//	DATABASE_URL            Postgres, migrated (insert, token; pool_max_conns in the URL sets the pool size)
//	REDIS_URL               Redis (insert)
//	BENCHREF_STREAM         the stream insert XADDs to (default benchref:deliveries, capped near 100,000 entries)
//	ENCRYPTION_KEYS         the gateway's keyring (token)
//
// The HTTP server has the gateway's settings (platform.NewServer with webhook.ServerLimits: keep-alive,
// timeouts, header cap), so the comparison is of what happens per request, not of server tuning. There is
// no access log, no metrics and no middleware: a reference is the least a server must do.
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

	"go.uber.org/zap"

	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/gateway/internal/config"
	"github.com/lightfastai/connections/gateway/internal/webhook"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchref:", err)
		os.Exit(1)
	}
}

const usage = "usage: benchref hmac | benchref insert | benchref token"

func run(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New(usage)
	}
	env := platform.OSEnv()
	addr := env.String("BENCHREF_ADDR", "127.0.0.1:4199")
	log, err := platform.NewLogger("benchref", "info", "json")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	var h http.Handler
	switch args[0] {
	case "hmac":
		h, err = newHMAC(env)
	case "insert":
		var closeFn func()
		h, closeFn, err = newInsert(ctx, env, log)
		if closeFn != nil {
			defer closeFn()
		}
	case "token":
		var closeFn func()
		h, closeFn, err = newToken(ctx, env)
		if closeFn != nil {
			defer closeFn()
		}
	default:
		return errors.New(usage)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	log.Info("reference server", zap.String("mode", args[0]))
	return platform.Serve(ctx, platform.NewServer(h, webhook.ServerLimits(config.Config{})), addr, 5*time.Second, log)
}
