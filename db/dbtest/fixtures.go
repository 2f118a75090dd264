package dbtest

import (
	"os"
	"path/filepath"
	"testing"
)

// FixturesDir returns the directory of the shared provider fixtures (shared/fixtures beside the
// repository checkout, or LIGHTFAST_FIXTURES_DIR). It fails the test when they cannot be found.
func FixturesDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("LIGHTFAST_FIXTURES_DIR"); dir != "" {
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	// Walk up to the repository root (the directory with go.work); shared/ sits beside it.
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			fixtures := filepath.Join(filepath.Dir(dir), "shared", "fixtures")
			if _, err := os.Stat(fixtures); err != nil {
				t.Fatalf("dbtest: provider fixtures not found at %s (set LIGHTFAST_FIXTURES_DIR)", fixtures)
			}
			return fixtures
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("dbtest: no go.work above %s; set LIGHTFAST_FIXTURES_DIR", wd)
		}
	}
}

// Fixture reads one fixture file, e.g. Fixture(t, "github/push/payload.json").
func Fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(FixturesDir(t), rel))
	if err != nil {
		t.Fatalf("dbtest: fixture %s: %v", rel, err)
	}
	return b
}
