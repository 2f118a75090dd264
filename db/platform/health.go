package platform

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

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

// CheckTimeout bounds one run of every check.
const CheckTimeout = 2 * time.Second

// RunChecks runs the checks in order with a shared timeout, up to the first that fails, and returns the
// failure by name (empty when all passed). Each check relies on those before it (the schema can only be
// checked on a database that answers), so one cause is reported once and a hung database costs one
// timeout, not one per check.
func RunChecks(ctx context.Context, checks []Check) map[string]error {
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	failed := map[string]error{}
	for _, c := range checks {
		if err := c.Fn(ctx); err != nil {
			failed[c.Name] = err
			break
		}
	}
	return failed
}

// Readiness answers /readyz. The endpoint is unauthenticated (and internet-facing on the gateway), so
// the body names the failed checks and nothing else: driver errors carry the database user and name
// and internal addresses. The errors go to the log, once per change of what fails, not once per probe.
// Work a service starts once it is ready (AfterReady) waits on Passed.
type Readiness struct {
	checks []Check
	log    *zap.Logger

	mu   sync.Mutex
	last string // the failed names of the previous answer, joined

	passed     chan struct{} // closed when every check first passes
	passedOnce sync.Once
}

// ReadyBody is /readyz's body.
type ReadyBody struct {
	Status string   `json:"status"`           // ready or unavailable
	Failed []string `json:"failed,omitempty"` // names of the failed checks, sorted
}

// Check runs the checks (as /readyz does, with the same logging) and returns the failed ones' names,
// sorted; none means ready.
func (r *Readiness) Check(ctx context.Context) []string {
	errs := RunChecks(ctx, r.checks)
	failed := make([]string, 0, len(errs))
	for name := range errs {
		failed = append(failed, name)
	}
	slices.Sort(failed)
	r.report(failed, errs)
	if len(failed) == 0 {
		r.passedOnce.Do(func() { close(r.passed) })
	}
	return failed
}

// Passed is closed once every check has passed, by a probe of /readyz or a call of Check.
func (r *Readiness) Passed() <-chan struct{} { return r.passed }

func (r *Readiness) serve(c echo.Context) error {
	if failed := r.Check(c.Request().Context()); len(failed) > 0 {
		return c.JSON(http.StatusServiceUnavailable, ReadyBody{Status: "unavailable", Failed: failed})
	}
	return c.JSON(http.StatusOK, ReadyBody{Status: "ready"})
}

func (r *Readiness) report(failed []string, errs map[string]error) {
	key := strings.Join(failed, ",")
	r.mu.Lock()
	changed := key != r.last
	r.last = key
	r.mu.Unlock()
	if !changed {
		return
	}
	if len(failed) == 0 {
		r.log.Info("ready again")
		return
	}
	fields := make([]zap.Field, 0, len(failed)+1)
	fields = append(fields, zap.Strings("failed", failed))
	for _, name := range failed {
		fields = append(fields, zap.NamedError(name, errs[name]))
	}
	r.log.Warn("not ready", fields...)
}

// MountHealth adds GET /healthz (liveness: the process answers), GET /readyz (every check passes;
// unauthenticated, so it names failed checks only and logs their errors) and GET /metrics (Prometheus,
// from gatherer), and returns the readiness /readyz answers from.
func MountHealth(e *echo.Echo, gatherer prometheus.Gatherer, log *zap.Logger, checks ...Check) *Readiness {
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	r := &Readiness{checks: checks, log: log, passed: make(chan struct{})}
	e.GET("/readyz", r.serve)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})))
	return r
}

// NewRegistry returns a Prometheus registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
