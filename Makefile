# Lightfast connections platform. `make test` runs every test; `make run` runs the whole system natively.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
MODULES := db proto gateway console
TOOL := cd $(CURDIR)/tools && GOWORK=off go tool

# Local defaults: the Postgres and Redis on this machine. CI and your shell may override them.
export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/lightfast?sslmode=disable
export REDIS_URL ?= redis://127.0.0.1:6379/1

.PHONY: help generate generate-check lint fmt vet test test-short migrate run bench fuzz tidy build e2e demo faults security

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

generate: ## regenerate sqlc and buf code (tools pinned in tools/go.mod)
	$(TOOL) sqlc generate -f ../db/sqlc.yaml
	./proto/generate.sh

generate-check: generate ## fail when generated code is not committed and current
	@git diff --exit-code -- db/dbq proto/gen || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- db/dbq proto/gen)" || { git status --porcelain -- db/dbq proto/gen; echo "generated code is not committed"; exit 1; }

fmt: ## gofmt every module
	gofmt -w $(MODULES)

vet: ## go vet every module
	@for m in $(MODULES); do (cd $$m && go vet ./...) || exit 1; done

lint: vet ## gofmt check, go vet and golangci-lint (config: .golangci.yml)
	@out=$$(gofmt -l $(MODULES)); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	@for m in $(MODULES); do (cd $$m && GOWORK=off go tool -modfile=../tools/go.mod golangci-lint run --config ../.golangci.yml ./...) || exit 1; done

build: ## build every module, also alone (GOWORK=off)
	@for m in $(MODULES); do (cd $$m && GOWORK=off go build ./...) || exit 1; done

test: ## run every test of every module with -race against real Postgres and Redis
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && go test -race -count=1 -timeout 20m ./...) || exit 1; done

tidy: ## go mod tidy in every module
	@for m in $(MODULES) tools; do (cd $$m && GOWORK=off go mod tidy) || exit 1; done

migrate: ## apply migrations to DATABASE_URL (creates the database when missing)
	@psql "$${DATABASE_URL%/*}/postgres?sslmode=disable" -tAc "SELECT 1 FROM pg_database WHERE datname = '$$(basename "$${DATABASE_URL%%\?*}")'" | grep -q 1 \
		|| psql "$${DATABASE_URL%/*}/postgres?sslmode=disable" -c "CREATE DATABASE $$(basename "$${DATABASE_URL%%\?*}")"
	go run ./db/cmd/migrate up

run: migrate ## migrate, then run the simulator, gateway and console against local Postgres and Redis (Ctrl-C stops all)
	./scripts/run-local.sh

bench: ## run every benchmark and load script, then write BENCHMARKS.md (figures against their goals)
	./scripts/bench.sh

faults: ## fault-injection suite: both real binaries under SIGKILL, Redis and Postgres outages, a poison delivery, a stranded delivery; then three gateway replicas refreshing one token
	cd gateway && go test -tags faults -count=1 -timeout 20m -v ./faults/...
	cd gateway && go test -count=1 -timeout 5m -run '^TestRefreshIsSingleFlightAcrossProcesses$$' ./internal/vault/

# The security suite (README "Security suite" lists which test proves what). Ordinary tests, so make test
# runs them too; this target runs just them.
SECURITY_DB := ^(TestTamperedAndMovedCiphertextsFail|TestSecretMasks|TestParseKeyringErrorsNameNoKeyMaterial|TestCiphertextMovedToAnotherRowDoesNotDecrypt|TestGetForOrgHidesOtherOrgs|TestCreateStoresOnlyTheHash|TestConsumeIsSingleUse|TestRefusals|TestReadyzNamesTheFailedCheckOnly|TestUnreadableRowFailsAlone|TestConfirmOutcomes|TestExpireDueRemovesOnlyExpiredPendingConnections|TestRevokeLaterKeepsTheTokenForTheRevokeJob|TestUpsertInstallationMovesOnlyARevokedOneToAnotherOrg|TestNewServerSetsEveryLimit)$$
SECURITY_GATEWAY := ^(TestSecurity.*|TestGitHubRejects|TestBadInputIsRejectedAndNothingStored|TestRemovedSecretIsRefused|TestConcurrentDuplicateDeliveries|TestOtherProvidersWithRealSignatures|TestBadStates|TestCallbackReplayIsRefused|TestSpoofedGitHubInstallation|TestMalformedCallbacks|TestInstallationClaimedByAnotherOrg|TestAuthorizeRedirectAndCookie|TestStateCookieIsSecureOutsideLocalDevelopment|TestTokenEndpointAuthAndLookup|TestMiddleware|TestUnknownInstallationIsRefusedAlone|TestPendingInstallationIsNotUsable|TestUnconfirmedConnectionsExpire|TestRevokeJobSparesAReconnectionAndRetries|TestRefusalPageForBrowsers|TestGitHubMemberships|TestSlowBodyWithinTheReadTimeoutIsAccepted|TestServerLimitsCoverTheWebhookReadTimeout|TestWebhookLimits)$$
SECURITY_CONSOLE := ^(TestSecurity.*|TestCrossOrgIsNotFound|TestGetAuthorizeURLBadInput|TestRejectedTokens|TestHS256TokenSignedWithPublicKeyIsRejected|TestM2MKeys|TestSameOrigin|TestSignIn|TestPagesRequireASession|TestConnectedNeedsASession|TestConnectedRefusedOrFailed|TestDisconnectCascadesAndNeedsAdmin)$$

security: ## the security suite: signature tampering, replay windows, rotation, state misuse, spoofed ids, open redirects, cross-org, moved ciphertexts, log scans, hostile bodies and senders
	cd db && go test -race -count=1 -run '$(SECURITY_DB)' . ./secrets/ ./vault/ ./oauthstate/ ./platform/ ./integrations/ ./pending/ ./teardown/
	cd gateway && go test -race -count=1 -run '$(SECURITY_GATEWAY)' ./internal/webhook/... ./internal/connect/ ./internal/vault/ ./internal/apikey/ ./internal/admin/ ./internal/providersim/ ./cmd/gateway/ ./internal/config/
	cd console && go test -race -count=1 -run '$(SECURITY_CONSOLE)' ./internal/api/ ./internal/auth/ ./internal/pages/ ./internal/logscan/ ./internal/worker/ ./cmd/console/

fuzz: ## run every fuzz target for a bounded time (FUZZTIME, default 20s each)
	./scripts/fuzz.sh

e2e: ## browser tests: headless Chromium (/usr/bin/chromium) drives the real simulator, gateway and console
	cd console && go test -tags e2e -count=1 -timeout 15m ./e2e/...

demo: ## with `make run` going in another terminal: one connection lifecycle per provider, printed step by step (DEMO_FLAGS=-keep stays connected)
	set -a; . scripts/dev.env; set +a; cd console && go run ./internal/demo $(DEMO_FLAGS)
