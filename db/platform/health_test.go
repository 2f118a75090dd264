package platform_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/lightfastai/connections/db/platform"
)

// A driver error names the user, the database and the address; /readyz is unauthenticated, so it says
// which check failed and nothing else, and the error goes to the log (once per change, not per probe).
func TestReadyzNamesTheFailedCheckOnly(t *testing.T) {
	t.Parallel()
	const driverError = `failed to connect to user=lightfast_svc database=lightfast_prod: 10.1.2.3:5432 (postgres://lightfast_svc@10.1.2.3:5432/lightfast_prod): dial error`
	var pgErr, schemaRuns int
	postgresDown := true
	checks := []platform.Check{
		{Name: "postgres", Fn: func(context.Context) error {
			if postgresDown {
				pgErr++
				return errors.New(driverError)
			}
			return nil
		}},
		{Name: "schema", Fn: func(context.Context) error { schemaRuns++; return nil }},
	}
	core, logs := observer.New(zap.InfoLevel)
	e := platform.NewEcho(zap.NewNop(), nil)
	platform.MountHealth(e, prometheus.NewRegistry(), zap.New(core), checks...)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}

	for range 3 {
		status, body := get("/readyz")
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.JSONEq(t, `{"status":"unavailable","failed":["postgres"]}`, body)
		for _, leak := range []string{"lightfast_svc", "lightfast_prod", "10.1.2.3", "5432", "dial", "postgres://"} {
			require.NotContains(t, body, leak)
		}
	}
	require.Equal(t, 3, pgErr)
	require.Zero(t, schemaRuns, "checks after a failed one are not run")
	warn := logs.FilterMessage("not ready").All()
	require.Len(t, warn, 1, "the failure is logged once, not once per probe")
	require.Equal(t, driverError, warn[0].ContextMap()["postgres"], "the details are in the log")

	status, body := get("/healthz")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"status":"ok"}`, body, "liveness does not depend on the checks")

	postgresDown = false
	status, body = get("/readyz")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"status":"ready"}`, body)
	require.Equal(t, 1, schemaRuns)
	require.Len(t, logs.FilterMessage("ready again").All(), 1)
}
