package pages

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/db/platform"
)

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	e := platform.NewEcho(zap.NewNop(), nil)
	e.Use(SameOrigin(origin))
	reached := 0
	e.Any("/lightfast.console.v1.ConnectionService/Disconnect", func(c echo.Context) error {
		reached++
		return c.NoContent(http.StatusOK)
	})
	for _, tc := range []struct {
		name    string
		method  string
		cookie  bool
		headers map[string]string
		allowed bool
	}{
		{"same origin", http.MethodPost, true, map[string]string{"Origin": origin}, true},
		{"same origin, other case", http.MethodPost, true, map[string]string{"Origin": "HTTP://CONSOLE.TEST:4107"}, true},
		{"no origin, same-origin fetch metadata", http.MethodPost, true, map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"no origin or fetch metadata (curl)", http.MethodPost, true, nil, true},
		{"bearer from anywhere", http.MethodPost, true, map[string]string{"Origin": "https://evil.example", "Authorization": "Bearer x"}, true},
		{"no cookie", http.MethodPost, false, map[string]string{"Origin": "https://evil.example"}, true},
		{"GET is not state-changing", http.MethodGet, true, map[string]string{"Origin": "https://evil.example"}, true},
		{"other origin", http.MethodPost, true, map[string]string{"Origin": "https://evil.example"}, false},
		{"other port", http.MethodPost, true, map[string]string{"Origin": "http://console.test:4108"}, false},
		{"origin with a path suffix trick", http.MethodPost, true, map[string]string{"Origin": origin + ".evil.example"}, false},
		{"null origin", http.MethodPost, true, map[string]string{"Origin": "null"}, false},
		{"cross-site fetch metadata", http.MethodPost, true, map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"same-site fetch metadata", http.MethodPost, true, map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"DELETE from other origin", http.MethodDelete, true, map[string]string{"Origin": "https://evil.example"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := reached
			req := httptest.NewRequest(tc.method, "/lightfast.console.v1.ConnectionService/Disconnect", nil)
			if tc.cookie {
				req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: "tok"})
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if tc.allowed {
				require.Equal(t, http.StatusOK, rec.Code)
				require.Equal(t, before+1, reached)
				return
			}
			require.Equal(t, http.StatusForbidden, rec.Code)
			require.JSONEq(t, `{"error":{"code":"cross_origin_request","message":"cookie-authenticated requests must come from the console's own pages"}}`, rec.Body.String())
			require.Equal(t, before, reached, "the handler must not run")
		})
	}
}
