// Package webhook is POST /webhooks/:provider (SPEC §5.3): cap the body, verify it, extract the
// delivery, route it to its installation and record it durably with its job, then answer.
//
// Status codes: 202 {"status":"accepted","id"} once the row and job are committed (also for an
// unrouted delivery, answered {"status":"unrouted","id"}, and for a lifecycle delivery whose body does
// not confirm its event header, recorded ignored without a job); 200 {"status":"duplicate"} for a
// delivery seen before; 400 malformed payload (including nesting deeper than verify.MaxDepth) / missing
// delivery id or event; 401 signature or timestamp problems; 404 unknown provider; 408 body not
// received within WEBHOOK_READ_TIMEOUT; 413 body over WEBHOOK_MAX_BODY_BYTES; 503 with Retry-After when
// the bodies in flight hold WEBHOOK_MAX_INFLIGHT_BYTES, and 503 when Postgres cannot take the write, so
// the provider retries. Nothing is written for any non-2xx answer.
package webhook

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/config"
	"github.com/lightfastai/connections/gateway/internal/webhook/recorder"
	"github.com/lightfastai/connections/gateway/internal/webhook/verify"
)

// Recorder is what the handler needs from the group-commit writer.
type Recorder interface {
	Record(ctx context.Context, d recorder.Delivery) (recorder.Outcome, error)
}

// Handler receives webhooks.
type Handler struct {
	providers map[types.Provider]verify.Provider
	routes    *routing.Cache
	pool      *pgxpool.Pool
	rec       Recorder
	own       *recorder.Recorder // the recorder Start made, stopped by Stop
	local     *localRoutes
	maxBody   int64
	readLimit time.Duration // WEBHOOK_READ_TIMEOUT
	inflight  *budget       // WEBHOOK_MAX_INFLIGHT_BYTES
	metrics   *Metrics
	log       *zap.Logger
	now       func() time.Time
}

// Deps are the handler's collaborators.
type Deps struct {
	Pool    *pgxpool.Pool
	Routes  *routing.Cache
	Jobs    recorder.JobInserter // the River client; used when Recorder is nil
	Keyring *secrets.Keyring     // decrypts Linear installations' webhook secrets
	// Registry receives the ingest metrics.
	Registry prometheus.Registerer
	Log      *zap.Logger
	// Recorder replaces the group-commit recorder Start would build (tests).
	Recorder Recorder
	// Commit tunes the group commit (zero: defaults).
	Commit recorder.Config
	// LocalRouteTTL is how long a found route is reused in-process before asking Redis again (default
	// one second; negative turns the in-process cache off).
	LocalRouteTTL time.Duration
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Start builds the handler from the gateway configuration and starts its group-commit recorder; Stop
// it after the HTTP server has drained. A provider without secrets is still served: every delivery
// for it fails verification (fail closed), which is what the sender should see.
func Start(cfg config.Config, d Deps) *Handler {
	h := &Handler{
		routes: d.Routes, pool: d.Pool, rec: d.Recorder, maxBody: cfg.WebhookMaxBodyBytes, readLimit: cfg.WebhookReadTimeout,
		inflight: &budget{max: cfg.WebhookMaxInflightBytes}, log: d.Log, now: d.Now,
	}
	h.metrics = NewMetrics(d.Registry, h.inflight)
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxBody <= 0 {
		h.maxBody = 26 << 20
	}
	if h.readLimit <= 0 {
		h.readLimit = DefaultReadTimeout
	}
	if h.inflight.max <= 0 {
		h.inflight.max = 256 << 20
	}
	ttl := d.LocalRouteTTL
	if ttl == 0 {
		ttl = time.Second
	}
	h.local = newLocalRoutes(ttl)
	if h.rec == nil {
		commit := d.Commit
		commit.OnFlush = h.metrics.flush
		h.own = recorder.New(d.Pool, d.Jobs, commit)
		h.rec = h.own
	}
	h.providers = map[types.Provider]verify.Provider{
		types.GitHub: verify.GitHub{Secrets: verify.Secrets(cfg.GitHub.WebhookSecrets)},
		types.Vercel: verify.Vercel{Secrets: verify.Secrets(cfg.Vercel.ClientSecrets)},
		types.Linear: verify.Linear{Fallback: verify.Secrets(cfg.Linear.WebhookSecrets), InstallationSecrets: h.linearSecrets(d.Keyring)},
		types.Sentry: verify.Sentry{Secrets: verify.Secrets(cfg.Sentry.ClientSecrets)},
	}
	// Count Redis failures next to whatever the cache's owner already does with them.
	prev := d.Routes.OnError
	d.Routes.OnError = func(err error) {
		h.metrics.cacheErrors.Inc()
		if prev != nil {
			prev(err)
		} else {
			h.log.Warn("routing cache unavailable, using postgres", zap.Error(err))
		}
	}
	return h
}

// Stop commits what is queued and stops the recorder Start built.
func (h *Handler) Stop(ctx context.Context) error {
	if h.own == nil {
		return nil
	}
	return h.own.Stop(ctx)
}

// Mount adds the webhook route.
func (h *Handler) Mount(e *echo.Echo) {
	e.POST("/webhooks/:provider", h.receive)
}

// DefaultReadTimeout is WEBHOOK_READ_TIMEOUT's default: GitHub itself gives up after 10 s.
const DefaultReadTimeout = 15 * time.Second

// recordTimeout bounds the work after the body is read (secret lookup, routing, the commit).
const recordTimeout = 15 * time.Second

// ServerLimits are the HTTP server limits the gateway runs with: the shared defaults, with the read
// timeout stretched to cover a webhook body that takes up to WEBHOOK_READ_TIMEOUT after its headers,
// and the write timeout (which net/http counts from the end of the headers) covering that body, the
// recording after it and the answer.
func ServerLimits(cfg config.Config) platform.ServerLimits {
	l := platform.DefaultServerLimits()
	read := cfg.WebhookReadTimeout
	if read <= 0 {
		read = DefaultReadTimeout
	}
	l.ReadTimeout = max(l.ReadTimeout, l.ReadHeaderTimeout+read)
	l.WriteTimeout = max(l.WriteTimeout, read+recordTimeout+5*time.Second)
	return l
}

func (h *Handler) receive(c echo.Context) error {
	name := c.Param("provider")
	provider, err := types.ParseProvider(name)
	if err != nil {
		return platform.Errorf(http.StatusNotFound, "unknown_provider", "no webhook receiver for this provider")
	}
	v := h.providers[provider]

	// The body must arrive within the read timeout, counted from here (the headers are in). A writer
	// without a connection (a test recorder) cannot take it; a connection that is gone shows up as the
	// read's error.
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(h.readLimit))
	in, err := readBody(c.Response(), c.Request(), h.maxBody, h.inflight)
	defer in.release() // after Record has returned: nothing refers to the body any more
	if err != nil {
		return h.unread(c, name, err)
	}
	body := in.buf

	// The body is in: from here on the delivery is recorded even if the sender hangs up, so a provider
	// that timed out and will retry finds it already there (200 duplicate). The bound keeps a stuck
	// database from holding the request forever.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), recordTimeout)
	defer cancel()
	req := verify.Request{Header: c.Request().Header, Body: body, Now: h.now()}
	if err := v.Verify(ctx, req); err != nil {
		return h.reject(name, err)
	}
	ev, err := v.Parse(req)
	if err != nil {
		return h.reject(name, err)
	}

	installationID, err := h.route(ctx, provider, ev)
	if err != nil {
		return h.unavailable(name, err)
	}
	d := recorder.Delivery{
		ID: ids.New(), Provider: provider, DeliveryID: ev.DeliveryID, EventType: ev.EventType,
		ResourceID: ev.ResourceID, Payload: body, Headers: ev.Headers,
	}
	routeTo(&d, installationID, ev)
	if ev.Unconfirmed != "" {
		h.log.Warn("lifecycle event not confirmed by its body", zap.String("provider", name), zap.String("reason", ev.Unconfirmed))
	}

	outcome, err := h.rec.Record(ctx, d)
	if err == nil && outcome == recorder.UnknownInstallation {
		// The cache named an installation the database does not have (a second database behind the same
		// Redis, a restore): nothing was written. Route again from the database, correcting the cache.
		h.metrics.unknownInstallation(name)
		h.log.Warn("routing cache named an unknown installation; routed again from the database",
			zap.String("provider", name), zap.String("installation_id", installationID))
		if installationID, err = h.reroute(ctx, provider, ev); err != nil {
			return h.unavailable(name, err)
		}
		routeTo(&d, installationID, ev)
		if outcome, err = h.rec.Record(ctx, d); err == nil && outcome == recorder.UnknownInstallation {
			err = errors.New("installation removed while the delivery was recorded")
		}
	}
	if err != nil {
		return h.unavailable(name, err)
	}
	if outcome == recorder.Duplicate {
		h.metrics.delivery(name, "duplicate")
		return c.JSONBlob(http.StatusOK, []byte(`{"status":"duplicate"}`))
	}
	status := "accepted"
	switch d.Status {
	case types.DeliveryUnrouted:
		status = "unrouted"
	case types.DeliveryIgnored:
		status = "ignored"
	}
	h.metrics.delivery(name, status)
	// ids are URL-safe base64 characters, so the id needs no JSON escaping.
	return c.JSONBlob(http.StatusAccepted, []byte(`{"status":"`+status+`","id":"`+d.ID+`"}`))
}

// route finds the installation a delivery belongs to ("" when none). Lifecycle events are routed
// straight from Postgres whatever the installation's status, so an unsuspend can reach a suspended
// installation; everything else goes through the routing cache.
func (h *Handler) route(ctx context.Context, p types.Provider, ev verify.Event) (string, error) {
	if ev.Lifecycle && ev.InstallationExternalID != "" {
		inst, err := dbq.New(h.pool).GetInstallationByExternalID(ctx, dbq.GetInstallationByExternalIDParams{Provider: p, ExternalID: ev.InstallationExternalID})
		if err != nil {
			if db.IsNotFound(db.Interpret(err)) {
				return "", nil
			}
			return "", err
		}
		return inst.ID, nil
	}
	var (
		id  string
		src routing.Source
		err error
	)
	key := localKey(p, ev)
	if key == "" {
		return "", nil
	}
	now := time.Now()
	if id, ok := h.local.get(key, now); ok {
		h.metrics.localHit()
		return id, nil
	}
	if ev.InstallationExternalID != "" {
		id, src, err = h.routes.ResolveInstallation(ctx, p, ev.InstallationExternalID)
	} else {
		id, src, err = h.routes.ResolveResource(ctx, p, ev.ResourceID)
	}
	if err != nil {
		return "", err
	}
	h.metrics.lookup(src)
	h.local.put(key, id, now)
	return id, nil
}

// localKey is the in-process cache key of a delivery's route ("" when the event names nothing to route
// by).
func localKey(p types.Provider, ev verify.Event) string {
	switch {
	case ev.InstallationExternalID != "":
		return string(p) + ":inst:" + ev.InstallationExternalID
	case ev.ResourceID != "":
		return string(p) + ":res:" + ev.ResourceID
	}
	return ""
}

// reroute is route for a delivery whose route named an unknown installation: from the database alone,
// dropping the in-process entry and correcting the Redis one.
func (h *Handler) reroute(ctx context.Context, p types.Provider, ev verify.Event) (string, error) {
	if ev.Lifecycle && ev.InstallationExternalID != "" {
		return h.route(ctx, p, ev) // never cached
	}
	key := localKey(p, ev)
	h.local.drop(key)
	var (
		id  string
		err error
	)
	switch {
	case ev.InstallationExternalID != "":
		id, err = h.routes.RefreshInstallation(ctx, p, ev.InstallationExternalID)
	case ev.ResourceID != "":
		id, err = h.routes.RefreshResource(ctx, p, ev.ResourceID)
	}
	if err != nil {
		return "", err
	}
	h.local.put(key, id, time.Now())
	return id, nil
}

// routeTo points d at an installation (or none: unrouted) and gives it the job that goes with it.
func routeTo(d *recorder.Delivery, installationID string, ev verify.Event) {
	d.InstallationID, d.Status, d.Job, d.LastError = installationID, types.DeliveryReceived, nil, ""
	switch {
	case ev.Unconfirmed != "":
		// Authentic, but the body is not the lifecycle event the unsigned header says: keep it for the
		// record, act on nothing.
		d.Status, d.LastError = types.DeliveryIgnored, ev.Unconfirmed
	case installationID == "":
		d.Status = types.DeliveryUnrouted
	case ev.Lifecycle:
		d.Job = jobs.WebhookLifecycle{DeliveryID: d.ID}
	default:
		d.Job = jobs.WebhookProcess{DeliveryID: d.ID}
	}
}

// linearSecrets returns the decrypted webhook secret of a Linear organization's installation.
func (h *Handler) linearSecrets(kr *secrets.Keyring) func(context.Context, string) ([][]byte, error) {
	return func(ctx context.Context, organizationID string) ([][]byte, error) {
		row, err := dbq.New(h.pool).GetLinearWebhookSecret(ctx, organizationID)
		if err != nil {
			if db.IsNotFound(db.Interpret(err)) {
				return nil, nil
			}
			return nil, err
		}
		if row.WebhookSecret == nil || kr == nil {
			return nil, nil
		}
		secret, err := kr.Decrypt(*row.WebhookSecret, secrets.Field{Table: "lightfast_gw_installations", Column: "webhook_secret", RowID: row.ID})
		if err != nil {
			// A secret that does not decrypt cannot verify anything; the fallback secrets still may.
			h.log.Error("linear webhook secret does not decrypt", zap.String("installation_id", row.ID), zap.Error(err))
			return nil, nil
		}
		return [][]byte{[]byte(secret)}, nil
	}
}

// reject maps a verification or parse error to its answer. This is the one place codes are chosen.
func (h *Handler) reject(provider string, err error) error {
	var status int
	var code string
	switch {
	case errors.Is(err, verify.ErrMissingSignature):
		status, code = http.StatusUnauthorized, "missing_signature"
	case errors.Is(err, verify.ErrInvalidSignature):
		status, code = http.StatusUnauthorized, "invalid_signature"
	case errors.Is(err, verify.ErrStaleTimestamp):
		status, code = http.StatusUnauthorized, "stale_timestamp"
	case errors.Is(err, verify.ErrMalformedPayload):
		status, code = http.StatusBadRequest, "malformed_payload"
	case errors.Is(err, verify.ErrMissingDeliveryID):
		status, code = http.StatusBadRequest, "missing_delivery_id"
	case errors.Is(err, verify.ErrMissingEventType):
		status, code = http.StatusBadRequest, "missing_event_type"
	default:
		return h.unavailable(provider, err)
	}
	if status == http.StatusUnauthorized {
		h.metrics.verificationFailure(provider, code)
		h.metrics.delivery(provider, "unauthorized")
	} else {
		h.metrics.delivery(provider, "invalid")
	}
	return platform.Errorf(status, code, "%s", err.Error())
}

// unread answers a body that was not read: too large, too slow, over the in-flight budget or cut off.
// The connection is closed after the answer: what is left of the body is not worth reading (net/http
// would otherwise try to drain it first, waiting on a slow sender).
func (h *Handler) unread(c echo.Context, provider string, err error) error {
	c.Response().Header().Set(echo.HeaderConnection, "close")
	switch {
	case errors.Is(err, errTooLarge):
		h.metrics.delivery(provider, "too_large")
		return platform.Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "body exceeds %d bytes", h.maxBody)
	case errors.Is(err, errTimeout):
		h.metrics.delivery(provider, "timeout")
		return platform.Errorf(http.StatusRequestTimeout, "body_timeout", "the body did not arrive within %s", h.readLimit)
	case errors.Is(err, errBusy):
		h.metrics.delivery(provider, "busy")
		// By then every body now in flight has arrived or timed out.
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(h.readLimit.Seconds()))))
		return platform.Errorf(http.StatusServiceUnavailable, "busy", "too many webhook bodies in flight; retry later")
	}
	h.metrics.delivery(provider, "invalid")
	return platform.Errorf(http.StatusBadRequest, "unreadable_body", "could not read the request body")
}

func (h *Handler) unavailable(provider string, err error) error {
	h.metrics.delivery(provider, "unavailable")
	h.log.Error("webhook not recorded", zap.String("provider", provider), zap.Error(err))
	return platform.Errorf(http.StatusServiceUnavailable, "unavailable", "the delivery could not be recorded; retry later")
}
