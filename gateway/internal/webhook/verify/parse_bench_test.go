package verify_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"testing"

	"github.com/lightfastai/connections/gateway/internal/webhook/verify"
)

// BenchmarkGitHub is the per-delivery CPU of verifying and parsing a real push payload.
func BenchmarkGitHub(b *testing.B) {
	body := fixture(b, "push/with-installation.payload.json")
	g := verify.GitHub{Secrets: [][]byte{[]byte("s")}}
	r := verify.Request{Body: body, Header: http.Header{
		"X-Hub-Signature-256": {"sha256=" + mac(sha256.New, "s", body)}, "X-Github-Event": {"push"}, "X-Github-Delivery": {"d"}}}
	b.SetBytes(int64(len(body)))
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if err := g.Verify(context.Background(), r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := g.Parse(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
