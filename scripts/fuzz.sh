#!/usr/bin/env bash
# Runs every fuzz target (func FuzzX) in every module for a bounded time each: FUZZTIME (default 20s).
# Targets are discovered per package with `go test -list`, so a new FuzzX is picked up without editing
# this file. A crash fails the run; its input is saved under the package's testdata/fuzz for a regression.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-20s}"
: "${TEST_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
: "${TEST_REDIS_URL:=redis://127.0.0.1:6379/0}"
export TEST_DATABASE_URL TEST_REDIS_URL

ran=0
for module in db proto gateway console; do
	[ -d "$module" ] || continue
	pushd "$module" >/dev/null
	for pkg in $(go list ./...); do
		targets=$(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep -E '^Fuzz' || true)
		for target in $targets; do
			echo "== $pkg $target ($FUZZTIME)"
			go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"
			ran=$((ran + 1))
		done
	done
	popd >/dev/null
done
echo "fuzz: $ran targets, $FUZZTIME each, no failures"
