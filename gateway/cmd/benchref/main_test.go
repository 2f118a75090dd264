package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/providersim"
)

const testBody = `{"ref":"refs/heads/main","repository":{"id":42},"installation":{"id":7}}`

// pushFor is a push for an installation id of its own: routes live in the shared Redis without a prefix.
func pushFor(installation int64) string {
	return `{"ref":"refs/heads/main","repository":{"id":42},"installation":{"id":` + strconv.FormatInt(installation, 10) + `}}`
}

func post(t *testing.T, h http.Handler, body, sig, delivery string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader([]byte(body)))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", sig)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The HMAC-only reference verifies with the gateway's code: a good signature is 202, a bad one 401.
func TestHMACVerifies(t *testing.T) {
	h, err := newHMAC(platform.MapEnv(map[string]string{"GITHUB_WEBHOOK_SECRET": "s3cret"}))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, post(t, h, testBody, providersim.SignGitHub("s3cret", []byte(testBody)), "d-1").Code)
	require.Equal(t, http.StatusUnauthorized, post(t, h, testBody, providersim.SignGitHub("other", []byte(testBody)), "d-2").Code)

	_, err = newHMAC(platform.MapEnv(nil))
	require.ErrorContains(t, err, "GITHUB_WEBHOOK_SECRET")
}

// The insert reference writes the delivery row, routed to its installation, before its 202, and XADDs
// its id; a bad signature writes nothing.
func TestInsertWritesTheRow(t *testing.T) {
	url := dbtest.NewDatabaseURL(t)
	pool := dbtest.Pool(t, url)
	redis, prefix := dbtest.Redis(t)
	instID := ids.New()
	external := time.Now().UnixNano()
	body := pushFor(external)
	_, err := dbq.New(pool).UpsertInstallation(context.Background(), dbq.UpsertInstallationParams{
		ID: instID, Provider: types.GitHub, ExternalID: strconv.FormatInt(external, 10), ConnectedBy: "user_1", OrgID: "org_1",
	})
	require.NoError(t, err)
	h, closeFn, err := newInsert(context.Background(), platform.MapEnv(map[string]string{
		"GITHUB_WEBHOOK_SECRET": "s3cret", "DATABASE_URL": url, "REDIS_URL": dbtest.RedisURL(t), "BENCHREF_STREAM": prefix + "d",
	}), zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(closeFn)

	delivery := "d-" + ids.New()
	require.Equal(t, http.StatusAccepted, post(t, h, body, providersim.SignGitHub("s3cret", []byte(body)), delivery).Code)
	require.Equal(t, http.StatusUnauthorized, post(t, h, body, providersim.SignGitHub("other", []byte(body)), "d-bad").Code)

	var installation, status string
	var payload []byte
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT installation_id, status, payload FROM lightfast_gw_webhook_deliveries WHERE provider = 'github' AND delivery_id = $1`, delivery).
		Scan(&installation, &status, &payload))
	require.Equal(t, instID, installation)
	require.Equal(t, types.DeliveryReceived, status)
	require.Equal(t, body, string(payload))
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM lightfast_gw_webhook_deliveries`).Scan(&n))
	require.Equal(t, 1, n, "nothing written for the bad signature")
	length, err := redis.Do(context.Background(), redis.B().Xlen().Key(prefix+"d").Build()).AsInt64()
	require.NoError(t, err)
	require.EqualValues(t, 1, length)
}
