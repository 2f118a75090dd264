package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/testproc"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/admin"
	"github.com/lightfastai/connections/gateway/internal/apikey"
)

const key = "admin-key-1"

type bundle struct {
	url    string
	pool   *pgxpool.Pool
	river  *river.Client[pgx.Tx]
	routes *routing.Cache
}

func setup(t *testing.T) *bundle {
	t.Helper()
	pool := dbtest.NewPool(t)
	redis, prefix := dbtest.Redis(t)
	routes := routing.New(redis, pool, prefix)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{SkipUnknownJobCheck: true})
	require.NoError(t, err)
	e := platform.NewEcho(zap.NewNop(), nil)
	admin.New(pool, routes, client, prometheus.NewRegistry(), zap.NewNop()).
		Mount(e, apikey.New([]secrets.Secret{key}).Middleware("X-Admin-Key"))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &bundle{url: srv.URL, pool: pool, river: client, routes: routes}
}

func (b *bundle) call(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	require.NoError(t, err)
	req.Header.Set("X-Admin-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

// delivery records a delivery with the given status, received at the given time, with its job in
// jobState ("" for none).
func (b *bundle) delivery(t *testing.T, p types.Provider, status string, at time.Time, jobState string) string {
	t.Helper()
	ctx := context.Background()
	id := ids.New()
	_, err := dbq.New(b.pool).InsertDeliveries(ctx, dbq.InsertDeliveriesParams{
		Ids: []string{id}, Providers: []string{string(p)}, DeliveryIds: []string{id}, EventTypes: []string{"push"},
		InstallationIds: []string{""}, ResourceIds: []string{""}, Statuses: []string{status},
		Payloads: [][]byte{[]byte(`{"n":1}`)}, Headers: []string{`{"x-github-event":"push"}`},
	})
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, `UPDATE lightfast_gw_webhook_deliveries SET received_at = $2, last_error = CASE WHEN status = 'dlq' THEN 'boom' END WHERE id = $1`, id, at)
	require.NoError(t, err)
	if jobState != "" {
		res, err := b.river.Insert(ctx, jobs.WebhookProcess{DeliveryID: id}, nil)
		require.NoError(t, err)
		_, err = b.pool.Exec(ctx, `UPDATE river_job SET state = $2::river_job_state, attempt = max_attempts,
			finalized_at = CASE WHEN $2 IN ('discarded', 'completed', 'cancelled') THEN now() END WHERE id = $1`, res.Job.ID, jobState)
		require.NoError(t, err)
	}
	return id
}

func (b *bundle) jobState(t *testing.T, deliveryID string) (string, int) {
	t.Helper()
	var state string
	var n int
	err := b.pool.QueryRow(context.Background(), `SELECT max(state::text), count(*) FROM river_job WHERE args->>'deliveryId' = $1`, deliveryID).Scan(&state, &n)
	if n == 0 {
		return "", 0
	}
	require.NoError(t, err)
	return state, n
}

func (b *bundle) status(t *testing.T, id string) string {
	t.Helper()
	d, err := dbq.New(b.pool).GetDelivery(context.Background(), id)
	require.NoError(t, err)
	return d.Status
}

func TestAdminKeyRequired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, k := range []string{"", "wrong", key + "x"} {
		req, err := http.NewRequest(http.MethodGet, b.url+"/admin/health", nil)
		require.NoError(t, err)
		if k != "" {
			req.Header.Set("X-Admin-Key", k)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Contains(t, string(raw), `"code":"unauthorized"`)
	}
}

func TestHealthAndRebuild(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.delivery(t, types.GitHub, "received", time.Now(), "available")
	b.delivery(t, types.GitHub, "dlq", time.Now(), "discarded")
	status, body := b.call(t, http.MethodGet, "/admin/health", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "ok", body["status"])
	require.Equal(t, map[string]any{"webhooks": map[string]any{"available": float64(1)}}, body["queues"])
	require.Equal(t, float64(1), body["dlq"])

	inst, err := dbq.New(b.pool).UpsertInstallation(ctx, dbq.UpsertInstallationParams{ID: ids.New(), Provider: types.GitHub, ExternalID: "77", ConnectedBy: "u", OrgID: "o"})
	require.NoError(t, err)
	_, err = dbq.New(b.pool).UpsertResource(ctx, dbq.UpsertResourceParams{ID: ids.New(), InstallationID: inst.ID, ProviderResourceID: "r1"})
	require.NoError(t, err)
	status, body = b.call(t, http.MethodPost, "/admin/cache/rebuild", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"installations": float64(1), "resources": float64(1)}, body)
	id, src, err := b.routes.ResolveResource(ctx, types.GitHub, "r1")
	require.NoError(t, err)
	require.Equal(t, inst.ID, id)
	require.Equal(t, routing.FromCache, src)
}

// With no Redis reached since start, health is degraded (200) and says so, and a rebuild is 503
// unavailable: no crash, no detail of the error in the body.
func TestHealthAndRebuildWithoutRedis(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t)
	conn, err := platform.OpenRedis(context.Background(), testproc.NewRedis(t).URL(), zap.NewNop()) // nothing listening
	require.NoError(t, err)
	t.Cleanup(conn.Close)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{SkipUnknownJobCheck: true})
	require.NoError(t, err)
	e := platform.NewEcho(zap.NewNop(), nil)
	admin.New(pool, routing.NewOn(conn, pool, ""), client, prometheus.NewRegistry(), zap.NewNop()).
		Mount(e, apikey.New([]secrets.Secret{key}).Middleware("X-Admin-Key"))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	b := &bundle{url: srv.URL, pool: pool}

	status, body := b.call(t, http.MethodGet, "/admin/health", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "degraded", body["status"])
	require.Equal(t, map[string]any{"postgres": "ok", "redis": "not connected since start"}, body["checks"])
	status, body = b.call(t, http.MethodPost, "/admin/cache/rebuild", nil)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, map[string]any{"code": "unavailable", "message": "the database or cache did not answer"}, body["error"])
}

func TestDeliveriesKeysetPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	base := time.Now().Add(-time.Hour)
	var want []string // newest first
	for i := range 5 {
		want = append([]string{b.delivery(t, types.GitHub, "delivered", base.Add(time.Duration(i)*time.Minute), "")}, want...)
	}
	dlq := b.delivery(t, types.Sentry, "dlq", base.Add(-time.Hour), "")

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		status, body := b.call(t, http.MethodGet, "/admin/deliveries?status=delivered&limit=2&cursor="+cursor, nil)
		require.Equal(t, http.StatusOK, status)
		for _, d := range body["deliveries"].([]any) {
			m := d.(map[string]any)
			require.NotContains(t, m, "payload", "payload omitted by default")
			got = append(got, m["id"].(string))
		}
		next, ok := body["nextCursor"].(string)
		if !ok {
			break
		}
		cursor = next
	}
	require.Equal(t, want, got)

	status, body := b.call(t, http.MethodGet, "/admin/deliveries?provider=sentry&include_payload=true", nil)
	require.Equal(t, http.StatusOK, status)
	list := body["deliveries"].([]any)
	require.Len(t, list, 1)
	require.Equal(t, dlq, list[0].(map[string]any)["id"])
	require.Equal(t, map[string]any{"n": float64(1)}, list[0].(map[string]any)["payload"])
	require.Equal(t, "boom", list[0].(map[string]any)["lastError"])

	for query, code := range map[string]string{
		"status=lost": "invalid_status", "provider=gitlab": "invalid_provider", "limit=0": "invalid_limit",
		"limit=501": "invalid_limit", "limit=x": "invalid_limit", "cursor=!!!": "invalid_cursor", "cursor=bm9wZQ": "invalid_cursor",
	} {
		status, body := b.call(t, http.MethodGet, "/admin/deliveries?"+query, nil)
		require.Equal(t, http.StatusBadRequest, status, query)
		require.Equal(t, code, body["error"].(map[string]any)["code"], query)
	}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now()
	discarded := b.delivery(t, types.GitHub, "dlq", now, "discarded")
	jobless := b.delivery(t, types.GitHub, "dlq", now, "")
	delivered := b.delivery(t, types.GitHub, "delivered", now, "completed")

	status, body := b.call(t, http.MethodPost, "/admin/dlq/replay", map[string]any{"deliveryIds": []string{discarded, jobless, delivered, "nope"}})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"replayed": float64(2), "skipped": float64(1), "failed": float64(1)}, body)
	require.Equal(t, "received", b.status(t, discarded))
	state, n := b.jobState(t, discarded)
	require.Equal(t, "available", state)
	require.Equal(t, 1, n, "the discarded job is retried, not duplicated")
	state, n = b.jobState(t, jobless)
	require.Equal(t, "available", state)
	require.Equal(t, 1, n, "a fresh job when the old one is gone")
	require.Equal(t, "delivered", b.status(t, delivered), "replaying a delivered delivery is a no-op")
	state, _ = b.jobState(t, delivered)
	require.Equal(t, "completed", state)

	// Replaying again: nothing is dead-lettered any more.
	_, body = b.call(t, http.MethodPost, "/admin/dlq/replay", map[string]any{"deliveryIds": []string{discarded}})
	require.Equal(t, map[string]any{"replayed": float64(0), "skipped": float64(1), "failed": float64(0)}, body)
}

func TestReplayAllInRange(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now()
	old := b.delivery(t, types.GitHub, "dlq", now.Add(-48*time.Hour), "discarded")
	recent := b.delivery(t, types.GitHub, "dlq", now.Add(-time.Hour), "discarded")
	other := b.delivery(t, types.Linear, "dlq", now.Add(-time.Hour), "discarded")

	status, body := b.call(t, http.MethodPost, "/admin/dlq/replay", map[string]any{"all": true, "provider": "github", "since": now.Add(-24 * time.Hour)})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, float64(1), body["replayed"])
	require.Equal(t, "received", b.status(t, recent))
	require.Equal(t, "dlq", b.status(t, old))
	require.Equal(t, "dlq", b.status(t, other))

	for name, req := range map[string]any{
		"neither":       map[string]any{},
		"both":          map[string]any{"all": true, "deliveryIds": []string{"x"}},
		"bad provider":  map[string]any{"all": true, "provider": "gitlab"},
		"range, no all": map[string]any{"deliveryIds": []string{"x"}, "provider": "github"},
		"unknown field": map[string]any{"all": true, "everything": true},
	} {
		status, body := b.call(t, http.MethodPost, "/admin/dlq/replay", req)
		require.Equal(t, http.StatusBadRequest, status, name)
		require.NotEmpty(t, body["error"].(map[string]any)["code"], name)
	}
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	status, body = b.call(t, http.MethodPost, "/admin/dlq/replay", map[string]any{"deliveryIds": many})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "too_many_ids", body["error"].(map[string]any)["code"])
}

// TestSecurityReplayListIsCappedAndDeduplicated: a replay naming more ids than the cap is refused whole
// (400 too_many_ids) and replays nothing, however many of them repeat one real dead-lettered id; within
// the cap a repeated id is replayed once; an id that cannot be a delivery's is refused before any lookup.
func TestSecurityReplayListIsCappedAndDeduplicated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now()
	dead := b.delivery(t, types.GitHub, "dlq", now, "discarded")

	flood := make([]string, 30_000)
	for i := range flood {
		flood[i] = dead
	}
	status, body := b.call(t, http.MethodPost, "/admin/dlq/replay", map[string]any{"deliveryIds": flood})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "too_many_ids", body["error"].(map[string]any)["code"])
	require.Contains(t, body["error"].(map[string]any)["message"], "at most 1000 deliveryIds per call (got 30000)")
	require.Equal(t, "dlq", b.status(t, dead), "nothing replayed")
	state, n := b.jobState(t, dead)
	require.Equal(t, "discarded", state)
	require.Equal(t, 1, n)

	for name, id := range map[string]string{"empty": "", "too long": string(make([]byte, 192))} {
		status, body = b.call(t, http.MethodPost, "/admin/dlq/replay", map[string]any{"deliveryIds": []string{dead, id}})
		require.Equal(t, http.StatusBadRequest, status, name)
		require.Equal(t, "invalid_delivery_id", body["error"].(map[string]any)["code"], name)
		require.Equal(t, "dlq", b.status(t, dead), "%s: nothing replayed", name)
	}

	status, body = b.call(t, http.MethodPost, "/admin/dlq/replay", map[string]any{"deliveryIds": []string{dead, dead, dead}})
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]any{"replayed": float64(1), "skipped": float64(0), "failed": float64(0)}, body, "a repeated id is replayed once")
	require.Equal(t, "received", b.status(t, dead))
}
