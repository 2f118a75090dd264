package webhook_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/gateway/internal/providersim"
	"github.com/lightfastai/connections/gateway/internal/webhook"
	"github.com/lightfastai/connections/gateway/internal/webhook/recorder"
)

// accepting records nothing and accepts everything: it isolates the handler's own cost.
type accepting struct{}

func (accepting) Record(context.Context, recorder.Delivery) (recorder.Outcome, error) {
	return recorder.Accepted, nil
}

// BenchmarkHandler is the gateway's CPU per delivery outside the database: echo with the production
// middleware, verification, parsing, routing (in-process cache warm) and the answer.
//
//	go test -run '^$' -bench Handler -benchmem ./internal/webhook/
func BenchmarkHandler(b *testing.B) {
	pool := dbtest.NewPool(b)
	redis, prefix := dbtest.Redis(b)
	routes := routing.New(redis, pool, prefix)
	routes.PutInstallation(context.Background(), "github", "1", "inst_1")
	h := webhook.Start(testConfig(), webhook.Deps{Pool: pool, Routes: routes, Recorder: accepting{}, Registry: prometheus.NewRegistry(), Log: zap.NewNop()})
	e := platform.NewEcho(zap.NewNop(), platform.NewHTTPMetrics(prometheus.NewRegistry()))
	h.Mount(e)
	body := fixture(b, "push/with-installation.payload.json")
	sig := providersim.SignGitHub("gh-new", body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "d-"+strconv.Itoa(i))
		req.Header.Set("X-Hub-Signature-256", sig)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
