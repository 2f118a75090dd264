package pages

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"

	"github.com/lightfastai/connections/console/internal/auth"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

// BenchmarkSourcesPage renders the sources page (session check, 11 service calls answered by a fake,
// templates) without I/O: the page's own cost on top of the API's.
func BenchmarkSourcesPage(b *testing.B) {
	api := &fakeAPI{}
	pg, err := New(Config{PublicURL: origin}, auth.NewVerifier(auth.Config{DevSecret: devSecret}), api.services())
	if err != nil {
		b.Fatal(err)
	}
	e := setupEcho(pg)
	tok, err := auth.SignDevToken(devSecret, auth.DevTokenOptions{Principal: auth.Principal{UserID: "u", OrgID: "org_a", OrgRole: "admin"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		api.tokens = api.tokens[:0]
		req := httptest.NewRequest(http.MethodGet, "/workspaces/ws_1/sources", nil)
		req.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: tok})
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkInProcessCall is one Connect call through NewServices' in-process transport, with the API's
// auth interceptor verifying the forwarded session: the overhead each of the page's service calls adds.
func BenchmarkInProcessCall(b *testing.B) {
	v := auth.NewVerifier(auth.Config{DevSecret: devSecret})
	mux := http.NewServeMux()
	mux.Handle(consolev1connect.NewWorkspaceServiceHandler(principalAPI{}, connect.WithInterceptors(auth.UserInterceptor(v))))
	svc := NewServices(mux)
	tok, err := auth.SignDevToken(devSecret, auth.DevTokenOptions{Principal: auth.Principal{UserID: "u", OrgID: "org_a"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := withSession(context.Background(), tok)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Workspaces.ListWorkspaces(ctx, connect.NewRequest(&consolev1.ListWorkspacesRequest{})); err != nil {
			b.Fatal(err)
		}
	}
}
