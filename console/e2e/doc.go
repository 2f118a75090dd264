// Package e2e is the browser test suite: it runs the real provider simulator, gateway and console binaries
// on a fresh database and drives the console's pages in headless Chromium (Debian's /usr/bin/chromium,
// through chromedp) through the whole lifecycle of a connection for each provider: connect in a popup, link
// a resource, a signed webhook becoming an observation, a backfill, disconnect. A message from another
// origin must be ignored.
//
// The tests carry the build tag e2e; run them with `make e2e` (or `go test -tags e2e ./e2e/...` in console).
// Screenshots of failed steps go to $E2E_ARTIFACTS, or console/e2e/screenshots.
package e2e
