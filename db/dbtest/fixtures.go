package dbtest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// FixturesDir returns the directory of the provider fixtures the tests read: real payloads kept in this
// module's testdata/ (see testdata/github/README.md for their origin and licence). It is found from this
// source file's own location, so it never looks outside the repository, whatever the working directory.
func FixturesDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("dbtest: cannot locate the fixtures (no caller information)")
	}
	dir := filepath.Join(filepath.Dir(file), "testdata")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("dbtest: provider fixtures not found at %s: %v", dir, err)
	}
	return dir
}

// Fixture reads one fixture file byte for byte, e.g. Fixture(t, "github/push/payload.json").
func Fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(FixturesDir(t), rel))
	if err != nil {
		t.Fatalf("dbtest: fixture %s: %v", rel, err)
	}
	return b
}
