#!/usr/bin/env bash
# Every benchmark and load script of the project, then BENCHMARKS.md at the repository root. Loopback
# only, each bounded in time and count.
#
# Each section prints a header and its tool's own output, and turns its figures into machine-readable
# lines, one per figure:
#   BENCH <key> <value> <unit>
# (Go benchmarks: every value/unit pair of every Benchmark line; load tests: every "<n> req/s|accepted/s|obs/s"
# and "p50|p90|p99|max <n>ms" of their summary lines; a test may also print BENCH lines itself.) The report
# at the end matches those keys against the goals table below and writes BENCHMARKS.md: the machine, the
# command, each figure with its goal and whether it was met, every other figure, and the raw output.
#
# BENCH_SECTIONS="exec ingest …" runs only the named sections (the report then says "not measured" for
# the rest); BENCH_REPORT sets where the report goes (default BENCHMARKS.md; "-" for none).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${TEST_DATABASE_URL:=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
: "${TEST_REDIS_URL:=redis://127.0.0.1:6379/0}"
export TEST_DATABASE_URL TEST_REDIS_URL
REPORT=${BENCH_REPORT:-BENCHMARKS.md}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
# Other work on the machine distorts every figure; the report states the load around the run.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# want NAME: whether section NAME runs.
want() { [[ -z "${BENCH_SECTIONS:-}" || " $BENCH_SECTIONS " == *" $1 "* ]]; }
section() { printf '\n### %s\n' "$*" | tee -a "$OUT"; }
# gobench PREFIX: Go benchmark lines on stdin → printed, and a BENCH line per value/unit pair.
gobench() {
	grep -E '^Benchmark' | awk -v p="$1" '{
		print
		name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
		for (i = 3; i + 1 <= NF; i += 2) printf "BENCH %s.%s.%s %s %s\n", p, name, $(i+1), $i, $(i+1)
	}' | tee -a "$OUT"
}
# figures PREFIX PATTERN: the load test's summary lines matching PATTERN → printed, and BENCH lines for
# the rates and latency percentiles they state. BENCH lines the test printed itself pass through.
figures() {
	grep -E "$2|^BENCH " | awk -v p="$1" '
		/^BENCH / { print; next }
		{
			print
			line = $0
			while (match(line, /[0-9.]+ (req|accepted|obs)\/s/)) {
				split(substr(line, RSTART, RLENGTH), f, " ")
				printf "BENCH %s.per_s %s %s\n", p, f[1], f[2]
				line = substr(line, RSTART + RLENGTH)
			}
			line = $0
			while (match(line, /(p50|p90|p99|max) [0-9.]+(ms|µs|s)/)) {
				split(substr(line, RSTART, RLENGTH), f, " ")
				v = f[2]; unit = v; sub(/^[0-9.]+/, "", unit); sub(/[^0-9.].*$/, "", v)
				if (unit == "µs") v = v / 1000; else if (unit == "s") v = v * 1000
				printf "BENCH %s.%s %s ms\n", p, f[1], v
				line = substr(line, RSTART + RLENGTH)
			}
		}' | tee -a "$OUT"
}

if want exec; then
	section "exec → first /readyz 200, 20 starts per service, each alternating with a start of the reference (db/cmd/benchready: pgx pool + ping, rueidis client, listen); goal ≤ 1.5 × the reference"
	# Each benchmark reports ms/ready (the service), ref-ms/ready (the reference, started alternately with
	# it, so load that drifts during the run reaches both alike) and x-ref (their ratio, pair by pair).
	(cd gateway && go test -run '^$' -bench 'ExecToReady' -benchtime 20x ./cmd/gateway/) | gobench gateway
	(cd console && go test -run '^$' -bench 'ExecToReady' -benchtime 20x ./cmd/console/) | gobench console
fi

if want backfill; then
	section "backfill: observations/s from the simulator, 100-item pages, 1,000 items per run (goal ≥ 2,000/s)"
	(cd console && go test -run '^$' -bench 'Backfill' -benchtime 5x ./internal/backfill/) | gobench backfill
fi

if want token; then
	section "token endpoint: real gateway binary and the reference (gateway/cmd/benchref token: the one query + AES-GCM decrypt per request), 16 keep-alive connections, fresh token, 10 s each in alternating halves; goal p99 ≤ 2 × the reference's"
	# The test prints its own BENCH lines: token.p99 / token.per_s and token_ref.p99 / token_ref.per_s.
	(cd gateway && go test -tags loadtest -count=1 -run 'TestTokenEndpointLoad' -v ./internal/vault/) | grep -E '^(token |BENCH )' | tee -a "$OUT"
	(cd gateway && LOAD_LOG_LEVEL=warn LOAD_BENCH_KEY=token_warn go test -tags loadtest -count=1 -run 'TestTokenEndpointLoad' -v ./internal/vault/) |
		grep -E '^(token |BENCH )' | sed 's/^token /(LOG_LEVEL=warn, no access log) token /' | tee -a "$OUT"
fi

if want api; then
	section "console API: session JWT verify (JWKS cached / dev HS256), ListSources over HTTP (parallel), BulkLinkGitHub of 10 repos via the simulator"
	(cd console && go test -run '^$' -bench 'Verify' -benchtime 2s ./internal/auth/) | gobench auth
	(cd console && go test -run '^$' -bench 'ListSources|BulkLinkGitHub' -benchtime 2s ./internal/api/) | gobench api
fi

if want pages; then
	section "console pages: sources page render over fake services; one in-process Connect call with session verify"
	(cd console && go test -run '^$' -bench 'SourcesPage|InProcessCall' -benchtime 2s ./internal/pages/) | gobench pages
fi

if want ingest; then
	section "webhook ingest, three servers one after the other in one run (HMAC-only reference, real gateway binary, one-INSERT-per-request reference), each 64 connections, 4 KB signed GitHub push, unique delivery ids, 3 s warm-up then 60 s in 10 s windows"
	# The test prints its own BENCH lines: <server>.per_s / .p99 for the whole run, .wN.per_s / .wN.p99 per
	# window, .min_window_per_s / .max_window_p99, and the gateway's worst window over the HMAC-only run
	# (ingest.ratio_min_window_per_s, ingest.ratio_max_window_p99). ~3.5 minutes.
	(cd gateway && go test -tags loadtest -count=1 -timeout 10m -run 'TestIngestLoad' -v ./internal/webhook/) | grep -E '^(webhook ingest|BENCH )' | tee -a "$OUT"
	# The database side alone: the group-commit recorder, 64 goroutines, 4 KB payloads.
	(cd gateway && go test -run '^$' -bench 'Record' -benchtime 20000x ./internal/webhook/recorder/) | gobench recorder
fi

if want drain; then
	section "console webhook worker: real console binary drains a backlog of 50,000 push deliveries over 50 repositories into observations (goal ≥ 3,000 obs/s)"
	(cd console && BENCH_BACKLOG=50000 go test -count=1 -run '^$' -bench 'BacklogDrain' -benchtime 1x -timeout 20m ./cmd/console/) | gobench drain
fi

if want lag; then
	section "webhook → observation lag: both real binaries, 1,000 signed pushes/s sustained for 60 s, open loop, then again with a busy-loop process holding one core (goal p99 ≤ 250 ms each; Postgres CPU per delivery processing ≤ 2 × receiving)"
	# The test prints its own BENCH lines: lag.{p50,p99,max} (ms), lag.pg_receive_us and lag.pg_process_us
	# (Postgres CPU per delivery of the gateway's and the console's backends), lag.console_cpu_us,
	# lag.gateway_cpu_us; LOAD_BUSY_CORE=1 prints the same keys as lag_busy.*.
	for busy in 0 1; do
		(cd console && LOAD_BUSY_CORE=$busy go test -tags loadtest -count=1 -timeout 15m -run 'TestWebhooksToObservationsLoad' -v ./cmd/console/) |
			grep -E '^(webhooks→observations|BENCH )' | tee -a "$OUT"
	done
fi

if want pipeline; then
	section "pipeline: both real binaries, 50 installations; webhook → observation lag at a steady 500/s for 10 s (goal p99 ≤ 250 ms); then 20,000 signed pushes into the gateway (net/http client, 64 connections) with the console stopped, and the console drains them (goal ≥ 3,000 obs/s); peak memory (VmHWM) of each"
	# The test prints its own BENCH lines.
	(cd gateway && go test -tags loadtest -count=1 -timeout 15m -run 'TestPipeline' -v ./faults/) | grep -E '^(pipeline|peak memory|BENCH )' | tee -a "$OUT"
fi

# --- the report ---------------------------------------------------------------------------------------

[[ "$REPORT" == "-" ]] && exit 0

# The goals, one per line: key | figure | comparison | factor | reference key | unit | command.
# With a reference key the goal is factor × that figure of this same run (figures on these machines
# swing by 40% from one machine to the next, so a ratio to a reference measured minutes apart is the only
# goal that means the same everywhere); without one the factor is the goal itself. A "min:" / "max:" key
# takes the worst of every key matching its * pattern. A figure missing from this run is "not measured".
GOALS=$(cat <<'EOF'
ingest.min_window_per_s|webhook ingest, accepted/s, slowest 10 s window of 60 s (64 connections, 4 KB signed push)|>=|0.40|ingest_ref_hmac.per_s|req/s|cd gateway && go test -tags loadtest -run TestIngestLoad -v ./internal/webhook/
ingest.max_window_p99|webhook ingest, p99 answer time, worst 10 s window of 60 s|<=|2|ingest_ref_hmac.p99|ms|(same run)
gateway.ExecToReady.ms/ready|exec → ready, gateway (20 starts, each beside a start of the reference)|<=|1.5|gateway.ExecToReady.ref-ms/ready|ms|cd gateway && go test -run '^$' -bench ExecToReady -benchtime 20x ./cmd/gateway/
console.ExecToReady.ms/ready|exec → ready, console (20 starts, each beside a start of the reference)|<=|1.5|console.ExecToReady.ref-ms/ready|ms|cd console && go test -run '^$' -bench ExecToReady -benchtime 20x ./cmd/console/
token.p99|token endpoint, p99 (16 connections, fresh token)|<=|2|token_ref.p99|ms|cd gateway && go test -tags loadtest -run TestTokenEndpointLoad -v ./internal/vault/
lag.p99|webhook → observation lag, p99, 1,000 pushes/s for 60 s through both binaries|<=|250||ms|cd console && go test -tags loadtest -run TestWebhooksToObservationsLoad -v ./cmd/console/
lag_busy.p99|webhook → observation lag, p99, the same with the other core kept busy|<=|250||ms|LOAD_BUSY_CORE=1 (same command)
lag.pg_process_us|Postgres CPU per delivery, processing (console) against receiving (gateway)|<=|2|lag.pg_receive_us|µs|(the 1,000/s run)
lag_busy.pg_process_us|Postgres CPU per delivery, processing against receiving, other core busy|<=|2|lag_busy.pg_receive_us|µs|(the busy-core run)
EOF
)
# This suite's own goals (no issue sets them): absolute floors and ceilings kept from earlier rounds.
OWN_GOALS=$(cat <<'EOF'
min:backfill.Backfill/*.obs/s|backfill, observations/s from the simulator (100-item pages), slowest of the four providers|>=|2000||obs/s|cd console && go test -run '^$' -bench Backfill -benchtime 5x ./internal/backfill/
drain.BacklogDrain.obs/s|backlog drain, console binary, 50,000 deliveries|>=|3000||obs/s|cd console && BENCH_BACKLOG=50000 go test -run '^$' -bench BacklogDrain -benchtime 1x ./cmd/console/
pipeline.drain_obs_per_s|backlog drain through both binaries, 20,000 deliveries ingested by the gateway|>=|3000||obs/s|cd gateway && go test -tags loadtest -run TestPipeline -v ./faults/
memory.gateway_peak_mib|peak memory (VmHWM), gateway, after ingesting 20,000 over 64 connections|<=|256||MiB|(the pipeline run)
memory.console_peak_mib|peak memory (VmHWM), console, after draining 20,000|<=|256||MiB|(the pipeline run)
EOF
)

# goal_table GOALS: the markdown rows of a goals table, read against the BENCH lines of this run.
goal_table() {
	awk -v goals="$1" '
		function fmtv(v) { return (v + 0 == int(v + 0) ? sprintf("%d", v) : sprintf("%.2f", v)) }
		# resolve(key): the value of key in this run ("" when missing); min:/max: take the worst match.
		function resolve(key,    agg, pat, k, best, found) {
			if (key ~ /^(min|max):/) {
				agg = substr(key, 1, 3); pat = substr(key, 5)
				gsub(/[.\/]/, "\\\\&", pat); gsub(/\*/, ".*", pat); pat = "^" pat "$"
				found = 0
				for (k in value) if (k ~ pat) {
					if (!found || (agg == "min" ? value[k] + 0 < best : value[k] + 0 > best)) best = value[k] + 0
					found = 1
				}
				return found ? best : ""
			}
			return (key in value) ? value[key] : ""
		}
		/^BENCH / { split($0, f, " "); value[f[2]] = f[3] }
		END {
			n = split(goals, rows, "\n")
			for (i = 1; i <= n; i++) {
				split(rows[i], c, "|")
				sign = (c[3] == ">=" ? "≥" : "≤"); unit = c[6]
				v = resolve(c[1])
				if (c[5] != "") {
					ref = resolve(c[5])
					refcell = (ref == "" ? "not measured" : fmtv(ref) " " unit " (`" c[5] "`)")
					goal = (ref == "" ? "" : c[4] * ref)
					goalcell = sign " " c[4] " × reference" (ref == "" ? "" : " = " fmtv(goal) " " unit)
				} else {
					refcell = "–"; goal = c[4]; goalcell = sign " " c[4] " " unit
				}
				if (v == "" || goal == "") {
					printf "| %s | %s | %s | %s | – | `%s` |\n", c[2], (v == "" ? "not measured" : fmtv(v) " " unit), refcell, goalcell, c[7]
					continue
				}
				met = (c[3] == ">=" ? v + 0 >= goal + 0 : v + 0 <= goal + 0) ? "yes" : "**no**"
				ratio = (c[5] != "" && ref + 0 > 0) ? sprintf(" (%.2f×)", v / ref) : ""
				printf "| %s | %s %s%s | %s | %s | %s | `%s` |\n", c[2], fmtv(v), unit, ratio, refcell, goalcell, met, c[7]
			}
		}' "$OUT"
}

# window_table PREFIX…: the ingest run's 10-second windows, one column per server.
window_table() {
	awk -v prefixes="$*" '
		/^BENCH / { split($0, f, " "); value[f[2]] = f[3] }
		END {
			np = split(prefixes, p, " ")
			head = "| window |"; rule = "|---|"
			for (j = 1; j <= np; j++) { head = head " " p[j] " accepted/s | " p[j] " p99 ms |"; rule = rule "---|---|" }
			print head; print rule
			for (w = 1; ; w++) {
				any = 0; line = "| " w " |"
				for (j = 1; j <= np; j++) {
					r = p[j] ".w" w ".per_s"; l = p[j] ".w" w ".p99"
					if ((r in value) || (l in value)) any = 1
					line = line " " ((r in value) ? value[r] : "–") " | " ((l in value) ? value[l] : "–") " |"
				}
				if (!any) break
				print line
			}
		}' "$OUT"
}

pg_version=$(psql "$TEST_DATABASE_URL" -tAc 'SHOW server_version' 2>/dev/null || echo unknown)
redis_version=$(redis-cli -u "$TEST_REDIS_URL" INFO server 2>/dev/null | tr -d '\r' | sed -n 's/^redis_version://p')
{
	echo "# Benchmarks"
	echo
	echo "Written by \`make bench\` (\`./scripts/bench.sh\`) on $(date -u '+%Y-%m-%d %H:%M UTC') at commit \`$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\`,"
	echo "on the machine described below. Every figure is measured on loopback, with Postgres and Redis on the same host."
	echo "Figures swing by tens of percent from one machine to the next, so the issue's goals are ratios: each is"
	echo "compared with a reference program measured in this same run (the reference servers are \`gateway/cmd/benchref\`"
	echo "and \`db/cmd/benchready\`), and the table shows the reference beside the figure. Speed is measured here, never"
	echo "asserted in tests; the load tests do assert correctness (every accepted delivery committed, one observation each)."
	if awk -v l="${LOAD_BEFORE%% *}" -v n="$(nproc)" 'BEGIN { exit !(l + 0 > n / 2) }'; then
		echo
		echo "**The machine was busy with other work when this run started** (load average ${LOAD_BEFORE%% *} on $(nproc) CPUs):"
		echo "absolute figures are lower bounds; the ratios shared the same conditions only as far as that work was steady."
	fi
	echo
	echo "## Machine"
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| host | $(hostname 2>/dev/null || cat /etc/hostname) |"
	echo "| CPUs (nproc) | $(nproc) |"
	echo "| CPU model | $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) |"
	echo "| memory | $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) |"
	echo "| kernel | $(uname -sr) |"
	echo "| Go | $(go version | awk '{ print $3 }') |"
	echo "| Postgres | ${pg_version:-unknown} (synchronous_commit $(psql "$TEST_DATABASE_URL" -tAc 'SHOW synchronous_commit' 2>/dev/null || echo unknown), fsync $(psql "$TEST_DATABASE_URL" -tAc 'SHOW fsync' 2>/dev/null || echo unknown)) |"
	echo "| Redis | ${redis_version:-unknown} |"
	echo "| load average (1, 5, 15 min) before / after the run | $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg) |"
	echo
	echo "## Goals of issue 16, each against its reference in this run"
	echo
	echo "| figure | value | reference (same run) | goal | met | command |"
	echo "|---|---|---|---|---|---|"
	goal_table "$GOALS"
	echo
	echo "### Ingest, window by window"
	echo
	echo "Each server ran for the same time with the same generator; the ingest goals hold only if every window of the"
	echo "gateway meets them (\`ingest\` is the gateway, \`ingest_ref_hmac\` reads, verifies and answers with no I/O,"
	echo "\`ingest_ref_insert\` does one INSERT per request)."
	echo
	window_table ingest_ref_hmac ingest ingest_ref_insert
	echo
	echo "## This suite's own goals"
	echo
	echo "| figure | value | reference | goal | met | command |"
	echo "|---|---|---|---|---|---|"
	goal_table "$OWN_GOALS"
	echo
	echo "## Every figure"
	echo
	echo "| key | value | unit |"
	echo "|---|---|---|"
	awk '/^BENCH / { printf "| %s | %s | %s |\n", $2, $3, $4 }' "$OUT"
	echo
	echo "## Raw output"
	echo
	echo '```'
	grep -v '^BENCH ' "$OUT"
	echo '```'
} > "$REPORT"
echo
echo "wrote $REPORT"
