#!/usr/bin/env bash
# `make run`: the provider simulator, the gateway and the console, natively, against the local Postgres and
# Redis (DATABASE_URL / REDIS_URL from the Makefile or your shell). Logs are interleaved with a prefix per
# process; Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."

set -a
# shellcheck source=dev.env
. scripts/dev.env
set +a
: "${DATABASE_URL:?DATABASE_URL is required}"
: "${REDIS_URL:?REDIS_URL is required}"

mkdir -p bin tmp/dev
echo "building binaries into bin/ ..."
(cd gateway && go build -o ../bin/ ./cmd/gateway ./cmd/providersim)
(cd console && go build -o ../bin/ ./cmd/console)

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

# start NAME CMD...: run CMD with its output prefixed by NAME.
start() {
  local name=$1; shift
  "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
}

wait_http() {
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "$1 did not answer" >&2; return 1
}

# The simulator generates the GitHub App key on first start; the gateway signs App JWTs with it.
key=tmp/dev/github-app.pem
start sim env PROVIDERSIM_GITHUB_PRIVATE_KEY_OUT="$key" bin/providersim
wait_http http://127.0.0.1:4120/_sim/healthz
export GITHUB_APP_PRIVATE_KEY="@$key"

start gateway bin/gateway serve
start console bin/console serve
wait_http http://127.0.0.1:4110/readyz
wait_http http://127.0.0.1:4107/readyz

# A development session for the sign-in page (the same as `bin/console dev-token ...` prints).
token=$(bin/console dev-token --user user_dev --org org_dev --role admin)

cat <<MSG

  gateway   http://localhost:4110   (admin key: $GATEWAY_ADMIN_KEYS)
  console   http://localhost:4107   (sign in by pasting this session token: user_dev, org org_dev, admin, 24 h)
            $token
  simulator http://localhost:4120   (GitHub, Vercel, Linear and Sentry)

  Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
