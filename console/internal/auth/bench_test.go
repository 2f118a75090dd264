package auth_test

import (
	"context"
	"testing"

	"github.com/lightfastai/connections/console/internal/auth"
)

// BenchmarkVerifyRS256 is the per-request cost of a Clerk session token once the JWKS is cached.
func BenchmarkVerifyRS256(b *testing.B) {
	is := newIssuer(b)
	a, _ := testKeys(b)
	v := newVerifier(is, nil)
	tok := sign(b, a, "kid-a", sessionClaims(nil))
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyHS256 is the same for a development token.
func BenchmarkVerifyHS256(b *testing.B) {
	v := auth.NewVerifier(auth.Config{DevSecret: "dev-secret"})
	tok, err := auth.SignDevToken("dev-secret", auth.DevTokenOptions{Principal: auth.Principal{UserID: "u", OrgID: "o", OrgRole: "admin"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
