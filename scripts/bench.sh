#!/usr/bin/env bash
# Every benchmark and load script of the project. Loopback only, each bounded in time and count.
# Figures go to stdout; issue notes and BENCHMARKS.md quote them.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TEST_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
: "${TEST_REDIS_URL:=redis://127.0.0.1:6379/0}"
export TEST_DATABASE_URL TEST_REDIS_URL

section() { printf '\n### %s\n' "$*"; }

section "exec → first /readyz 200 (goal ≤ 60 ms), 20 starts per service"
(cd gateway && go test -run '^$' -bench 'ExecToReady' -benchtime 20x ./cmd/gateway/ | grep -E '^Benchmark')
(cd console && go test -run '^$' -bench 'ExecToReady' -benchtime 20x ./cmd/console/ | grep -E '^Benchmark')

section "backfill: observations/s from the simulator, 100-item pages, 1,000 items per run (goal ≥ 2,000/s)"
(cd console && go test -run '^$' -bench 'Backfill' -benchtime 5x ./internal/backfill/ | grep -E '^Benchmark')

section "token endpoint: real gateway binary, 16 keep-alive connections, fresh token, 10 s (goal p99 ≤ 2 ms, ≥ 10,000 req/s)"
(cd gateway && go test -tags loadtest -count=1 -run 'TestTokenEndpointLoad' -v ./internal/vault/ | grep -E '^token endpoint')
(cd gateway && LOAD_LOG_LEVEL=warn go test -tags loadtest -count=1 -run 'TestTokenEndpointLoad' -v ./internal/vault/ | grep -E '^token endpoint' | sed 's/^/(LOG_LEVEL=warn, no access log) /')

section "console API: session JWT verify (JWKS cached / dev HS256), ListSources over HTTP (parallel), BulkLinkGitHub of 10 repos via the simulator"
(cd console && go test -run '^$' -bench 'Verify' -benchtime 2s ./internal/auth/ | grep -E '^Benchmark')
(cd console && go test -run '^$' -bench 'ListSources|BulkLinkGitHub' -benchtime 2s ./internal/api/ | grep -E '^Benchmark')

section "console pages: sources page render over fake services; one in-process Connect call with session verify"
(cd console && go test -run '^$' -bench 'SourcesPage|InProcessCall' -benchtime 2s ./internal/pages/ | grep -E '^Benchmark')

section "webhook ingest: real gateway binary, fresh database, 64 connections, 15 s, 4 KB signed GitHub push, unique delivery ids (goal ≥ 12,000 accepted/s, p99 ≤ 15 ms)"
(cd gateway && go test -tags loadtest -count=1 -run 'TestIngestLoad' -v ./internal/webhook/ | grep -E '^webhook ingest')
(cd gateway && LOAD_LOG_LEVEL=warn go test -tags loadtest -count=1 -run 'TestIngestLoad' -v ./internal/webhook/ | grep -E '^webhook ingest' | sed 's/^/(LOG_LEVEL=warn, no access log) /')
(cd gateway && go test -run '^$' -bench 'Record' -benchtime 20000x ./internal/webhook/recorder/ | grep -E '^Benchmark' | sed 's/^/(database side alone: recorder, 64 goroutines, 4 KB payloads) /')

section "console webhook worker: real console binary drains a backlog of 50,000 push deliveries over 50 repositories into observations (goal ≥ 3,000 obs/s)"
(cd console && BENCH_BACKLOG=50000 go test -count=1 -run '^$' -bench 'BacklogDrain' -benchtime 1x -timeout 20m ./cmd/console/ | grep -E '^Benchmark')
