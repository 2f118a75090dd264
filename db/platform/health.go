package platform

import (
	"context"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/rueidis"

	"github.com/lightfastai/connections/db/migrations"
)

// Check is one named readiness check.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// PostgresCheck pings the pool.
func PostgresCheck(pool *pgxpool.Pool) Check {
	return Check{Name: "postgres", Fn: pool.Ping}
}

// SchemaCheck fails while the database is behind this build.
func SchemaCheck(pool *pgxpool.Pool) Check {
	return Check{Name: "schema", Fn: func(ctx context.Context) error { return migrations.Check(ctx, pool) }}
}

// RedisCheck pings Redis.
func RedisCheck(client rueidis.Client) Check {
	return Check{Name: "redis", Fn: func(ctx context.Context) error {
		return client.Do(ctx, client.B().Ping().Build()).Error()
	}}
}

// RunChecks runs every check with a shared timeout and reports each result ("ok" or the error text).
func RunChecks(ctx context.Context, checks []Check) (map[string]string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	results := make(map[string]string, len(checks))
	ok := true
	for _, c := range checks {
		if err := c.Fn(ctx); err != nil {
			results[c.Name] = err.Error()
			ok = false
		} else {
			results[c.Name] = "ok"
		}
	}
	return results, ok
}

// MountHealth adds GET /healthz (liveness: the process answers), GET /readyz (every check passes) and
// GET /metrics (Prometheus, from gatherer).
func MountHealth(e *echo.Echo, gatherer prometheus.Gatherer, checks ...Check) {
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c echo.Context) error {
		results, ok := RunChecks(c.Request().Context(), checks)
		status, word := http.StatusOK, "ready"
		if !ok {
			status, word = http.StatusServiceUnavailable, "not_ready"
		}
		return c.JSON(status, map[string]any{"status": word, "checks": results})
	})
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})))
}

// NewRegistry returns a Prometheus registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
