package pages

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"

	"connectrpc.com/connect"

	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

// localBase is the base URL of in-process calls; only its path reaches the handler.
const localBase = "http://console.local"

// NewServices returns Services that call api (an http.Handler serving the Console API's Connect routes)
// in-process: no socket, but the full handler stack (interceptors included) runs for every call. Each call
// carries the session token put in its context by withSession.
func NewServices(api http.Handler) Services {
	hc := localClient{h: api}
	opts := []connect.ClientOption{connect.WithInterceptors(sessionForwarder{})}
	return Services{
		Workspaces:   consolev1connect.NewWorkspaceServiceClient(hc, localBase, opts...),
		Connections:  consolev1connect.NewConnectionServiceClient(hc, localBase, opts...),
		Integrations: consolev1connect.NewIntegrationServiceClient(hc, localBase, opts...),
		Observations: consolev1connect.NewObservationServiceClient(hc, localBase, opts...),
		GitHub:       consolev1connect.NewGitHubServiceClient(hc, localBase, opts...),
		Vercel:       consolev1connect.NewVercelServiceClient(hc, localBase, opts...),
		Linear:       consolev1connect.NewLinearServiceClient(hc, localBase, opts...),
		Sentry:       consolev1connect.NewSentryServiceClient(hc, localBase, opts...),
		Jobs:         consolev1connect.NewJobServiceClient(hc, localBase, opts...),
	}
}

// localClient is a connect.HTTPClient that serves each request with a handler in this process.
type localClient struct{ h http.Handler }

func (c localClient) Do(r *http.Request) (*http.Response, error) {
	w := &responseBuffer{header: http.Header{}}
	r.RequestURI = r.URL.RequestURI()
	c.h.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.header,
		Body:          io.NopCloser(&w.body),
		ContentLength: int64(w.body.Len()),
		Request:       r,
	}, nil
}

// responseBuffer is the http.ResponseWriter of an in-process call.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseBuffer) Header() http.Header { return w.header }

func (w *responseBuffer) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseBuffer) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

type sessionKey struct{}

// withSession returns ctx carrying the caller's session token for the in-process calls made with it.
func withSession(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, sessionKey{}, token)
}

// sessionForwarder puts the context's session token on each in-process call as a bearer token, the way
// the API authenticates any caller.
type sessionForwarder struct{}

func (sessionForwarder) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if tok, _ := ctx.Value(sessionKey{}).(string); tok != "" {
			req.Header().Set("Authorization", "Bearer "+tok)
		}
		return next(ctx, req)
	}
}

func (sessionForwarder) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (sessionForwarder) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
