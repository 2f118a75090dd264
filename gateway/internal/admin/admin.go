// Package admin is the gateway's operator API (SPEC §5.4), behind X-Admin-Key: health with queue
// depth, routing-cache rebuild, the delivery log with keyset pagination, and DLQ replay.
package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/listcap"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/webhook/verify"
)

// Jobs is what replay needs from the River client.
type Jobs interface {
	JobRetryTx(ctx context.Context, tx pgx.Tx, id int64) (*rivertype.JobRow, error)
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// API serves /admin/*.
type API struct {
	pool   *pgxpool.Pool
	routes *routing.Cache
	jobs   Jobs
	log    *zap.Logger
}

// New returns the admin API and registers the queue-depth gauge on reg (when not nil). Redis is reached
// through routes, whose connection may not have a client yet.
func New(pool *pgxpool.Pool, routes *routing.Cache, jobs Jobs, reg prometheus.Registerer, log *zap.Logger) *API {
	a := &API{pool: pool, routes: routes, jobs: jobs, log: log}
	if reg != nil {
		reg.MustRegister(&queueDepthCollector{pool: pool})
	}
	return a
}

// Mount adds the routes behind guard (the X-Admin-Key check).
func (a *API) Mount(e *echo.Echo, guard echo.MiddlewareFunc) {
	g := e.Group("/admin", guard)
	g.GET("/health", a.health)
	g.POST("/cache/rebuild", a.rebuild)
	g.GET("/deliveries", a.deliveries)
	g.POST("/dlq/replay", a.replay)
}

// QueueDepth counts jobs not yet finished, by queue and state.
func QueueDepth(ctx context.Context, pool *pgxpool.Pool) (map[string]map[string]int64, error) {
	rows, err := pool.Query(ctx, `
		SELECT queue, state::text, count(*) FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'pending')
		GROUP BY queue, state`)
	if err != nil {
		return nil, fmt.Errorf("queue depth: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int64{}
	for rows.Next() {
		var queue, state string
		var n int64
		if err := rows.Scan(&queue, &state, &n); err != nil {
			return nil, fmt.Errorf("queue depth: %w", err)
		}
		if out[queue] == nil {
			out[queue] = map[string]int64{}
		}
		out[queue][state] = n
	}
	return out, rows.Err()
}

// health is 200 while Postgres answers (Redis down is "degraded": ingest keeps working through the
// database), 503 otherwise.
func (a *API) health(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "redis": "ok"}
	status, code := "ok", http.StatusOK
	if err := a.pool.Ping(ctx); err != nil {
		checks["postgres"] = "unavailable"
		status, code = "unavailable", http.StatusServiceUnavailable
	}
	if err := a.routes.Ping(ctx); err != nil {
		checks["redis"] = "unavailable"
		if errors.Is(err, routing.ErrNotConnected) {
			checks["redis"] = "not connected since start"
		}
		if code == http.StatusOK {
			status = "degraded"
		}
	}
	body := map[string]any{"status": status, "checks": checks}
	if code == http.StatusOK {
		depth, err := QueueDepth(ctx, a.pool)
		if err != nil {
			return a.unavailable(err)
		}
		var dlq int64
		if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM lightfast_gw_webhook_deliveries WHERE status = 'dlq'`).Scan(&dlq); err != nil {
			return a.unavailable(err)
		}
		body["queues"], body["dlq"] = depth, dlq
	}
	return c.JSON(code, body)
}

func (a *API) rebuild(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 30*time.Second)
	defer cancel()
	counts, err := a.routes.Rebuild(ctx)
	if err != nil {
		return a.unavailable(err)
	}
	return c.JSON(http.StatusOK, counts)
}

// Delivery is one entry of the delivery log.
type Delivery struct {
	ID                 string          `json:"id"`
	Provider           types.Provider  `json:"provider"`
	DeliveryID         string          `json:"deliveryId"`
	EventType          string          `json:"eventType"`
	InstallationID     *string         `json:"installationId"`
	ProviderResourceID *string         `json:"providerResourceId"`
	Status             string          `json:"status"`
	Attempts           int32           `json:"attempts"`
	LastError          *string         `json:"lastError"`
	ReceivedAt         time.Time       `json:"receivedAt"`
	ProcessedAt        *time.Time      `json:"processedAt"`
	Headers            types.Headers   `json:"headers"`
	Payload            json.RawMessage `json:"payload,omitempty"`
}

var statuses = map[string]bool{
	types.DeliveryReceived: true, types.DeliveryDelivered: true, types.DeliveryIgnored: true,
	types.DeliveryUnrouted: true, types.DeliveryDLQ: true,
}

const (
	defaultLimit = 50
	maxLimit     = 500
)

func (a *API) deliveries(c echo.Context) error {
	params := dbq.ListDeliveriesParams{MaxRows: defaultLimit + 1, IncludePayload: c.QueryParam("include_payload") == "true"}
	if s := c.QueryParam("status"); s != "" {
		if !statuses[s] {
			return platform.Errorf(http.StatusBadRequest, "invalid_status", "status must be one of received, delivered, ignored, unrouted, dlq")
		}
		params.Status = &s
	}
	if p := c.QueryParam("provider"); p != "" {
		if _, err := types.ParseProvider(p); err != nil {
			return platform.Errorf(http.StatusBadRequest, "invalid_provider", "provider must be one of github, vercel, linear, sentry")
		}
		params.Provider = &p
	}
	limit := defaultLimit
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxLimit {
			return platform.Errorf(http.StatusBadRequest, "invalid_limit", "limit must be between 1 and %d", maxLimit)
		}
		limit = n
	}
	params.MaxRows = int32(limit + 1) // one more says whether there is a next page
	if cur := c.QueryParam("cursor"); cur != "" {
		at, id, err := decodeCursor(cur)
		if err != nil {
			return platform.Errorf(http.StatusBadRequest, "invalid_cursor", "cursor is not one this endpoint returned")
		}
		params.BeforeAt, params.BeforeID = &at, &id
	}
	rows, err := dbq.New(a.pool).ListDeliveries(c.Request().Context(), params)
	if err != nil {
		return a.unavailable(err)
	}
	out := struct {
		Deliveries []Delivery `json:"deliveries"`
		NextCursor string     `json:"nextCursor,omitempty"`
	}{Deliveries: make([]Delivery, 0, len(rows))}
	if len(rows) > limit {
		last := rows[limit-1]
		out.NextCursor = encodeCursor(last.ReceivedAt, last.ID)
		rows = rows[:limit]
	}
	for _, r := range rows {
		d := Delivery{ID: r.ID, Provider: r.Provider, DeliveryID: r.DeliveryID, EventType: r.EventType,
			InstallationID: r.InstallationID, ProviderResourceID: r.ProviderResourceID, Status: r.Status,
			Attempts: r.Attempts, LastError: r.LastError, ReceivedAt: r.ReceivedAt, ProcessedAt: r.ProcessedAt, Headers: r.Headers}
		if params.IncludePayload && r.Payload != nil {
			// Payloads were verified JSON at receipt; anything else is passed as a JSON string.
			if json.Valid(r.Payload) {
				d.Payload = r.Payload
			} else {
				d.Payload, _ = json.Marshal(string(r.Payload))
			}
		}
		out.Deliveries = append(out.Deliveries, d)
	}
	return c.JSON(http.StatusOK, out)
}

// A cursor is the (received_at, id) of the last row of a page, opaque to clients.
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + ":" + id))
}

func decodeCursor(s string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", err
	}
	ts, id, ok := strings.Cut(string(raw), ":")
	micros, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || id == "" || len(id) > 191 {
		return time.Time{}, "", errors.New("malformed cursor")
	}
	return time.UnixMicro(micros), id, nil
}

// ReplayRequest selects deliveries to replay: either ids, or all dead-lettered ones in a range.
type ReplayRequest struct {
	DeliveryIDs []string   `json:"deliveryIds"`
	All         bool       `json:"all"`
	Provider    string     `json:"provider"`
	Since       *time.Time `json:"since"`
	Until       *time.Time `json:"until"`
}

// ReplayResult counts the outcome: replayed were dead-lettered and are queued again; skipped were not
// dead-lettered (replaying a delivered delivery is a no-op); failed are unknown ids or errors.
type ReplayResult struct {
	Replayed int `json:"replayed"`
	Failed   int `json:"failed"`
	Skipped  int `json:"skipped"`
}

const (
	maxReplayIDs = 1000
	// maxDeliveryIDLen is the width of gw_webhook_deliveries.id.
	maxDeliveryIDLen = 191
)

func (a *API) replay(c echo.Context) error {
	var req ReplayRequest
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return platform.Errorf(http.StatusBadRequest, "invalid_body", "body must be {deliveryIds: [...]} or {all: true, provider?, since?, until?}")
	}
	// The list is capped before anything else looks at it, then de-duplicated in one pass: a repeated id
	// is replayed once.
	deliveryIDs, err := listcap.Unique(req.DeliveryIDs, maxReplayIDs)
	if err != nil {
		return platform.Errorf(http.StatusBadRequest, "too_many_ids", "at most %d deliveryIds per call (got %d)", maxReplayIDs, len(req.DeliveryIDs))
	}
	switch {
	case req.All == (len(deliveryIDs) > 0):
		return platform.Errorf(http.StatusBadRequest, "invalid_body", "give either deliveryIds or all: true")
	case !req.All && (req.Provider != "" || req.Since != nil || req.Until != nil):
		return platform.Errorf(http.StatusBadRequest, "invalid_body", "provider, since and until go with all: true")
	}
	for _, id := range deliveryIDs {
		if id == "" || len(id) > maxDeliveryIDLen {
			return platform.Errorf(http.StatusBadRequest, "invalid_delivery_id", "every deliveryId is a delivery's id (1 to %d characters)", maxDeliveryIDLen)
		}
	}
	if req.Provider != "" {
		if _, err := types.ParseProvider(req.Provider); err != nil {
			return platform.Errorf(http.StatusBadRequest, "invalid_provider", "provider must be one of github, vercel, linear, sentry")
		}
	}
	// The replay is the operator's decision: it finishes even if the operator's connection drops.
	ctx := context.WithoutCancel(c.Request().Context())
	var res ReplayResult
	if !req.All {
		for _, id := range deliveryIDs {
			a.count(&res, a.replayOne(ctx, id))
		}
		return c.JSON(http.StatusOK, res)
	}
	var after *string
	for {
		params := dbq.ListDLQDeliveryIDsParams{Since: req.Since, Until: req.Until, AfterID: after, MaxRows: 500}
		if req.Provider != "" {
			params.Provider = &req.Provider
		}
		ids, err := dbq.New(a.pool).ListDLQDeliveryIDs(ctx, params)
		if err != nil {
			return a.unavailable(err)
		}
		for _, id := range ids {
			a.count(&res, a.replayOne(ctx, id))
		}
		if len(ids) < 500 {
			break
		}
		after = &ids[len(ids)-1]
	}
	return c.JSON(http.StatusOK, res)
}

type replayOutcome int

const (
	replayed replayOutcome = iota
	skipped
	failed
)

func (a *API) count(res *ReplayResult, o replayOutcome) {
	switch o {
	case replayed:
		res.Replayed++
	case skipped:
		res.Skipped++
	default:
		res.Failed++
	}
}

var errUnknownDelivery = errors.New("unknown delivery")

// replayOne moves one dead-lettered delivery back to received and gives it a job to run again, in one
// transaction: River's retry of its discarded job when that still exists, a fresh job otherwise.
func (a *API) replayOne(ctx context.Context, id string) replayOutcome {
	outcome := replayed
	err := db.WithTx(ctx, a.pool, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		row, err := q.RequeueDelivery(ctx, id)
		if db.IsNotFound(db.Interpret(err)) {
			if _, err := q.GetDelivery(ctx, id); db.IsNotFound(db.Interpret(err)) {
				return errUnknownDelivery
			}
			outcome = skipped // not dead-lettered: nothing to do
			return nil
		}
		if err != nil {
			return err
		}
		var jobID int64
		var state string
		err = tx.QueryRow(ctx, `
			SELECT id, state::text FROM river_job
			WHERE kind IN ('webhook.process', 'webhook.lifecycle') AND args @> jsonb_build_object('deliveryId', $1::text)
			ORDER BY id DESC LIMIT 1`, id).Scan(&jobID, &state)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			var args river.JobArgs = jobs.WebhookProcess{DeliveryID: id}
			if verify.IsLifecycle(row.Provider, row.EventType) {
				args = jobs.WebhookLifecycle{DeliveryID: id}
			}
			_, err = a.jobs.InsertTx(ctx, tx, args, nil)
			return err
		case err != nil:
			return err
		case state == "discarded" || state == "cancelled" || state == "completed":
			_, err = a.jobs.JobRetryTx(ctx, tx, jobID)
			return err
		}
		return nil // its job is still queued or running and will pick the delivery up
	})
	if err != nil {
		if !errors.Is(err, errUnknownDelivery) {
			a.log.Error("replay delivery", zap.String("delivery_id", id), zap.Error(err))
		}
		return failed
	}
	return outcome
}

func (a *API) unavailable(err error) error {
	a.log.Error("admin request failed", zap.Error(err))
	return platform.Errorf(http.StatusServiceUnavailable, "unavailable", "the database or cache did not answer")
}

// queueDepthCollector exports gateway_queue_depth{queue,state} at scrape time.
type queueDepthCollector struct{ pool *pgxpool.Pool }

var queueDepthDesc = prometheus.NewDesc("gateway_queue_depth", "River jobs not yet finished, by queue and state.", []string{"queue", "state"}, nil)

func (q *queueDepthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- queueDepthDesc }

func (q *queueDepthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	depth, err := QueueDepth(ctx, q.pool)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDepthDesc, err)
		return
	}
	for queue, states := range depth {
		for state, n := range states {
			ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n), queue, state)
		}
	}
}
