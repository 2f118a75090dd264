package verify

import (
	"testing"

	"github.com/tidwall/gjson"

	"github.com/lightfastai/connections/db/dbtest"
)

// BenchmarkDepthCheck is the cost of the nesting bound on real payloads, next to the validation gjson
// does anyway. A push has fewer openers than MaxDepth (the counting fast path); a pull_request has more,
// so its strings are stepped over one by one.
//
//	go test -run '^$' -bench DepthCheck ./internal/webhook/verify/
func BenchmarkDepthCheck(b *testing.B) {
	for _, name := range []string{"push/with-installation.payload.json", "pull_request/opened.payload.json"} {
		body := dbtest.Fixture(b, "github/"+name)
		b.Run(name+"/withinDepth", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if !withinDepth(body) {
					b.Fatal("refused a real payload")
				}
			}
		})
		b.Run(name+"/gjson.ValidBytes", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if !gjson.ValidBytes(body) {
					b.Fatal("invalid")
				}
			}
		})
	}
}
