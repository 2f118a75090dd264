package platform_test

import (
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/platform"
)

func TestNewServerSetsEveryLimit(t *testing.T) {
	t.Parallel()
	d := platform.DefaultServerLimits()
	srv := platform.NewServer(echo.New(), platform.ServerLimits{ReadTimeout: time.Minute})
	require.Equal(t, time.Minute, srv.ReadTimeout, "a set limit is kept")
	require.Equal(t, d.ReadHeaderTimeout, srv.ReadHeaderTimeout, "zero takes the default")
	require.Equal(t, d.WriteTimeout, srv.WriteTimeout)
	require.Equal(t, d.IdleTimeout, srv.IdleTimeout)
	require.Equal(t, d.MaxHeaderBytes, srv.MaxHeaderBytes)
	for name, v := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		require.Positive(t, v, name)
	}
	require.Positive(t, srv.MaxHeaderBytes)
}
