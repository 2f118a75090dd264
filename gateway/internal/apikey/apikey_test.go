package apikey_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/gateway/internal/apikey"
)

func TestValid(t *testing.T) {
	t.Parallel()
	k := apikey.New([]secrets.Secret{"old-key", "", "new-key"})
	require.True(t, k.Valid("old-key"))
	require.True(t, k.Valid("new-key"))
	require.False(t, k.Valid(""))
	require.False(t, k.Valid("new-ke"))
	require.False(t, k.Valid("new-key "))
	require.False(t, apikey.New(nil).Valid("anything"))
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	e := platform.NewEcho(zap.NewNop(), nil)
	e.GET("/x", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) },
		apikey.New([]secrets.Secret{"k1", "k2"}).Middleware("X-API-Key"))
	for name, tc := range map[string]struct {
		key  string
		want int
	}{"none": {"", 401}, "wrong": {"k3", 401}, "first": {"k1", 204}, "second": {"k2", 204}} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tc.key != "" {
				req.Header.Set("X-API-Key", tc.key)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			require.Equal(t, tc.want, rec.Code)
			if tc.want == 401 {
				require.JSONEq(t, `{"error":{"code":"unauthorized","message":"missing or invalid X-API-Key"}}`, rec.Body.String())
			}
		})
	}
}
