package platform

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// APIError is the one error shape of every JSON endpoint: {"error":{"code":…,"message":…}}. Code is
// stable (clients match on it); Message is for people and never holds a secret.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Errorf builds an APIError.
func Errorf(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// HTTPMetrics are the request counters and latency histograms of one server.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewHTTPMetrics registers the HTTP metrics on reg.
func NewHTTPMetrics(reg prometheus.Registerer) *HTTPMetrics {
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "HTTP request latency by method, route and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route", "status"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// NewEcho returns an echo server with request ids, an access log, panic recovery, metrics and the JSON
// error handler.
func NewEcho(log *zap.Logger, metrics *HTTPMetrics) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(log)
	e.Use(middleware.RequestID())
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true}))
	e.Use(accessLog(log, metrics))
	return e
}

func accessLog(log *zap.Logger, m *HTTPMetrics) echo.MiddlewareFunc {
	// The caller of every request line is this function: zap would walk the stack for it per request
	// (runtime.Callers, about 2% of a token request's CPU) to say the same thing each time.
	log = log.WithOptions(zap.WithCaller(false))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				// Let the error handler write the response now, so the status below is the real one.
				c.Error(err)
			}
			status := c.Response().Status
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			if m != nil {
				labels := []string{c.Request().Method, route, strconv.Itoa(status)}
				m.requests.WithLabelValues(labels...).Inc()
				m.latency.WithLabelValues(labels...).Observe(elapsed.Seconds())
			}
			// The path is the route template, not the URL: query strings can carry codes and states.
			if route != "/healthz" && route != "/readyz" && route != "/metrics" {
				log.Info("request",
					zap.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
					zap.String("method", c.Request().Method), zap.String("route", route),
					zap.Int("status", status), zap.Duration("elapsed", elapsed))
			}
			return nil
		}
	}
}

func errorHandler(log *zap.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		apiErr := toAPIError(err)
		if apiErr.Status >= 500 {
			log.Error("request failed", zap.String("route", c.Path()), zap.Error(err))
		}
		var werr error
		if c.Request().Method == http.MethodHead {
			werr = c.NoContent(apiErr.Status)
		} else {
			werr = c.JSON(apiErr.Status, map[string]*APIError{"error": apiErr})
		}
		if werr != nil {
			log.Debug("write error response", zap.Error(werr))
		}
	}
}

var echoCodes = map[int]string{
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusRequestEntityTooLarge: "body_too_large",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusBadRequest:            "bad_request",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusServiceUnavailable:    "unavailable",
}

func toAPIError(err error) *APIError {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code, ok := echoCodes[he.Code]
		if !ok {
			code = "error"
		}
		return &APIError{Status: he.Code, Code: code, Message: http.StatusText(he.Code)}
	}
	return &APIError{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
}

// UnencryptedHTTP2 makes srv also serve HTTP/2 without TLS (h2c, prior knowledge) on the same listener,
// beside HTTP/1.1, so plain gRPC clients (grpc-go, grpcurl -plaintext) can call Connect handlers.
func UnencryptedHTTP2(srv *http.Server) {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Protocols = &p
}

// ServerLimits bound what one connection can hold on a service's HTTP server. Each connection is its
// own goroutine, so a sender that is slow on purpose costs only what these limits let it keep (a few KB
// of buffers until a deadline); senders behind it are served as usual.
type ServerLimits struct {
	// ReadHeaderTimeout bounds the request line and headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the whole request, headers and body, from the first byte. A handler that
	// expects a slower body sets its own deadline (http.ResponseController.SetReadDeadline).
	ReadTimeout time.Duration
	// WriteTimeout bounds the answer, counted from the end of the request headers (net/http's rule),
	// so it must cover reading the body and the handler's own work too.
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line and headers.
	MaxHeaderBytes int
}

// DefaultServerLimits are the limits both services use unless a route needs more: request bodies here
// are small JSON (the gateway's webhooks stretch ReadTimeout and WriteTimeout, see its webhook package);
// 64 KiB of headers is twice what common proxies accept; the idle timeout is longer than load
// balancers' usual 60 s, so the balancer, not the service, closes idle connections.
func DefaultServerLimits() ServerLimits {
	return ServerLimits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// NewServer returns the http.Server for h with limits l; zero fields take DefaultServerLimits' values.
func NewServer(h http.Handler, l ServerLimits) *http.Server {
	d := DefaultServerLimits()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cmp.Or(l.ReadHeaderTimeout, d.ReadHeaderTimeout),
		ReadTimeout:       cmp.Or(l.ReadTimeout, d.ReadTimeout),
		WriteTimeout:      cmp.Or(l.WriteTimeout, d.WriteTimeout),
		IdleTimeout:       cmp.Or(l.IdleTimeout, d.IdleTimeout),
		MaxHeaderBytes:    cmp.Or(l.MaxHeaderBytes, d.MaxHeaderBytes),
	}
}

// Serve runs srv (see NewServer) on addr until ctx is cancelled, then stops accepting, drains in-flight
// requests for up to grace and returns.
func Serve(ctx context.Context, srv *http.Server, addr string, grace time.Duration, log *zap.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", zap.String("addr", ln.Addr().String()),
		zap.Duration("read_header_timeout", srv.ReadHeaderTimeout), zap.Duration("read_timeout", srv.ReadTimeout),
		zap.Duration("write_timeout", srv.WriteTimeout), zap.Duration("idle_timeout", srv.IdleTimeout),
		zap.Int("max_header_bytes", srv.MaxHeaderBytes))

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", zap.Duration("grace", grace))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
