//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/demoflow"
	"github.com/lightfastai/connections/console/internal/stacktest"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// TestBrowserLifecycle signs in, creates a workspace and then, for each provider, takes a connection through
// its whole life in the browser; finally it checks that messages from other origins are ignored. The steps
// depend on each other, so they share one system and one browser and run in order.
func TestBrowserLifecycle(t *testing.T) {
	s := startStack(t)
	b := newBrowser(t)
	const user, org = "user_e2e", "org_e2e"
	token := s.Token(t, user, org, "admin")
	api := s.Client(token)

	sourcesURL := signInAndCreateWorkspace(t, b, s, token)

	t.Run("connect refused", func(t *testing.T) {
		b := b.on(t)
		// The user declines at the provider: the popup reports the error and the page says so.
		require.NoError(t, simConsent(api, "github", map[string]any{"deny": true}))
		b.do("click connect", 30*time.Second, chromedp.Click(chromedp.CSS(`section[data-provider="github"] button[data-action="connect"]`)))
		b.waitFor("error shown", `(() => { const s = document.getElementById("status"); return !s.hidden && s.dataset.kind === "error" && s.textContent.includes("GitHub was not connected"); })()`,
			30*time.Second, false, nil)
		requirePopupClosed(t, b)
		connections := get(b, "no connection", chromedp.Evaluate[int](`document.querySelectorAll('section[data-provider="github"] .connection').length`))
		require.Zero(t, connections)
	})

	for _, provider := range demoflow.Providers {
		t.Run(provider, func(t *testing.T) {
			b := b.on(t)
			b.do("open sources", 30*time.Second, chromedp.Navigate(sourcesURL), chromedp.WaitVisible(chromedp.ID("sources")))
			lifecycle(t, b, api, provider)
		})
	}

	t.Run("foreign origin ignored", func(t *testing.T) {
		foreignOriginIgnored(t, b.on(t), s, sourcesURL)
	})
}

// signInAndCreateWorkspace signs in through the sign-in page with a pasted session token, creates a
// workspace on the workspaces page and returns the URL of its sources page.
func signInAndCreateWorkspace(t *testing.T, b *browser, s *stacktest.Stack, token string) string {
	t.Helper()
	signIn(b, s, token)
	b.do("create workspace", 30*time.Second,
		chromedp.SendKeys(chromedp.ID("workspace-name"), "E2E workspace"),
		chromedp.Click(chromedp.CSS(`#create-workspace button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("sources")),
	)
	url := get(b, "sources url", chromedp.Location())
	require.Regexp(t, `/workspaces/[A-Za-z0-9_-]+/sources$`, url)
	return url
}

// signIn signs in through the sign-in page with a pasted session token; it ends on the workspaces page.
func signIn(b *browser, s *stacktest.Stack, token string) {
	b.t.Helper()
	b.do("sign-in redirect", 30*time.Second,
		chromedp.Navigate(s.ConsoleURL+"/workspaces"),
		chromedp.WaitVisible(chromedp.ID("sign-in")),
	)
	b.do("sign in", 30*time.Second,
		chromedp.SetValue(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS(`#sign-in button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("create-workspace")),
	)
}

// lifecycle connects provider in a popup, links a resource, has the simulator send a signed webhook and
// waits for its observation, backfills, and disconnects.
func lifecycle(t *testing.T, b *browser, api *demoflow.Client, provider string) {
	section := fmt.Sprintf(`section[data-provider=%q]`, provider)

	// Connect: the click opens the popup, which goes gateway → simulator consent → gateway callback →
	// /connected. The callback left the connection pending; /connected confirms it under this browser's
	// session (only then is it listed, and active), posts the result to this page and closes; this page
	// then reloads with the connection.
	b.do("click connect", 30*time.Second, chromedp.Click(chromedp.CSS(section+` button[data-action="connect"]`)))
	b.waitFor("connection shown", `!!document.querySelector(`+js(section+` .connection[data-status="active"]`)+`)`, 45*time.Second, false, func() string {
		return "open pages: " + strings.Join(b.pageTargets(), ", ")
	})
	requirePopupClosed(t, b)
	installationID := b.attr("connection id", section+` .connection[data-status="active"]`, "data-installation-id")
	externalID := b.attr("connection external id", section+` .connection[data-status="active"]`, "data-external-id")

	// Link the first resource the connection offers.
	form := section + ` form[data-action="link"]`
	b.waitFor("resources listed", `document.querySelectorAll(`+js(form+` input[name="resource"]:not(:disabled)`)+`).length > 0`, 10*time.Second, false, func() string {
		return "link form says: " + b.text("link form", form)
	})
	b.do("link", 30*time.Second,
		chromedp.Click(chromedp.CSS(form+` input[name="resource"]:not(:disabled)`)),
		chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)),
	)
	row := section + ` tr.integration[data-active="true"]`
	b.waitFor("integration shown", `!!document.querySelector(`+js(row)+`)`, 30*time.Second, false, func() string {
		return "status line: " + b.text("status line", "#status")
	})
	integrationID := b.attr("integration id", row, "data-integration-id")
	row = fmt.Sprintf(`tr.integration[data-integration-id=%q]`, integrationID)
	target := demoflow.Target{
		ExternalID:   externalID,
		ResourceID:   b.attr("resource id", row, "data-resource-id"),
		ResourceName: b.attr("resource name", row, "data-resource-name"),
	}

	// A signed webhook from the provider becomes an observation on the page.
	wh, err := demoflow.NewWebhook(provider, target, demoflow.Marker())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	del, err := api.SendWebhook(ctx, wh)
	require.NoError(t, err)
	switch del.Status {
	case http.StatusAccepted:
	case http.StatusNotFound:
		t.Fatalf("the gateway does not serve POST /webhooks/%s: webhook ingest (gateway/internal/webhook) is not mounted in `gateway serve`", provider)
	default:
		t.Fatalf("the gateway answered the signed %s webhook with %d, want 202: %s (its log is below)", provider, del.Status, del.Body)
	}
	b.waitFor("observation shown", `document.querySelector(".observations").textContent.includes(`+js(wh.Title)+`)`, 45*time.Second, true, func() string {
		return fmt.Sprintf("webhook %s delivery %s was accepted by the gateway but no observation titled %q appeared: "+
			"is the webhook.process worker running in the console?", wh.Event, del.DeliveryID, wh.Title)
	})
	lastEvent := b.text("last event", row+` td.last-event`)
	require.NotEqual(t, "never", strings.TrimSpace(lastEvent), "the integration shows the time of its last event")

	// Backfill: the button starts it; the row follows its progress until it completes.
	b.do("start backfill", 30*time.Second, chromedp.Click(chromedp.CSS(row+` button[data-action="backfill"]`)))
	b.waitFor("backfill progressing", `["pending","running","completed","failed"].includes(document.querySelector(`+js(row)+`).dataset.backfillStatus)`,
		15*time.Second, false, func() string {
			return "BackfillService.StartBackfill did not start it; status line: " + b.text("status line", "#status")
		})
	b.waitFor("backfill completed", `["completed","failed","cancelled"].includes(document.querySelector(`+js(row)+`).dataset.backfillStatus)`,
		2*time.Minute, false, func() string {
			return "backfill is still " + b.text("backfill cell", row+` td.backfill`) + ": is the backfill.run worker (queue backfill) running in the console?"
		})
	cell := b.text("backfill result", row+` td.backfill`)
	if status := b.attr("backfill status", row, "data-backfill-status"); status != "completed" {
		b.fail("backfill completed", "the backfill ended %s: %s", status, cell)
	}
	require.NotContains(t, cell, " 0 processed", "a completed backfill of seeded history processed items")
	obs, err := api.Observations.ListObservations(ctx, connect.NewRequest(&consolev1.ListObservationsRequest{
		WorkspaceId: workspaceIDOf(t, b), IntegrationId: integrationID, PageSize: 100,
	}))
	require.NoError(t, err)
	require.Greater(t, len(obs.Msg.GetObservations()), 1, "the backfill added observations to the webhook's one")

	// Disconnect: the connection goes away and its integrations become inactive; the gateway revokes it at
	// the provider (GitHub App installations stay installed: their tokens lapse).
	revokes, err := api.SimCalls(ctx)
	require.NoError(t, err)
	b.do("disconnect", 30*time.Second, chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-action="disconnect"][data-installation-id=%q]`, installationID))))
	b.waitFor("integration inactive", `(() => {
		const row = document.querySelector(`+js(row)+`);
		return !!row && row.dataset.active === "false" && !document.querySelector(`+js(fmt.Sprintf(`.connection[data-installation-id=%q]`, installationID))+`);
	})()`, 30*time.Second, false, nil)
	srcs, err := api.Integrations.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: workspaceIDOf(t, b)}))
	require.NoError(t, err)
	for _, in := range srcs.Msg.GetIntegrations() {
		if in.GetInstallationId() == installationID {
			require.False(t, in.GetIsActive(), "integration %s on the disconnected installation", in.GetId())
		}
	}
	if key := revokeKeys[provider]; key != "" {
		require.Eventually(t, func() bool {
			calls, err := api.SimCalls(ctx)
			require.NoError(t, err)
			return calls[key] > revokes[key]
		}, 30*time.Second, 100*time.Millisecond, "the gateway never called %s after the disconnect", key)
	}
}

// revokeKeys are the simulator endpoints the gateway's installation.revoke job calls per provider.
var revokeKeys = map[string]string{
	"vercel": "vercel.configuration.delete",
	"linear": "linear.oauth.revoke",
	"sentry": "sentry.installation.delete",
}

// workspaceIDOf reads the workspace id of the sources page.
func workspaceIDOf(t *testing.T, b *browser) string {
	t.Helper()
	return b.attr("workspace id", "#sources", "data-workspace-id")
}

// requirePopupClosed checks that the connect popup closed itself.
func requirePopupClosed(t *testing.T, b *browser) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pages := b.pageTargets()
		if len(pages) == 1 {
			return
		}
		if time.Now().After(deadline) {
			b.fail("popup closed", "pages still open: %s", strings.Join(pages, ", "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// simConsent queues the simulator's answer to the next consent of provider.
func simConsent(api *demoflow.Client, provider string, consent map[string]any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return api.QueueConsentWith(ctx, provider, consent)
}

// foreignPage is served from another origin. Opened by the sources page, it posts forged results to its
// opener. Its probe() opens the console's /connected page itself and titles the page with whether that
// page posted its result here (it must not: /connected only posts to the console's own origin).
const foreignPage = `<!doctype html><title>foreign</title><script>
window.opener.postMessage({type: "connection_complete", provider: "github", installationId: "forged"}, "*");
window.opener.postMessage({type: "connection_error", provider: "github", error: "<img src=x onerror=alert(1)>"}, "*");
let received = false;
window.addEventListener("message", () => { received = true; });
function probe() {
  const popup = window.open(CONNECTED, "probe");
  if (!popup) { document.title = "blocked"; return; }
  const timer = setInterval(() => {
    if (!popup.closed) return;
    clearInterval(timer);
    setTimeout(() => { document.title = received ? "leaked" : "clean"; }, 200);
  }, 50);
}
</script>`

func foreignOriginIgnored(t *testing.T, b *browser, s *stacktest.Stack, sourcesURL string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	connected := s.ConsoleURL + "/connected?provider=github&installationId=V1StGXR8_Z5jdHi6B-myT"
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(strings.Replace(foreignPage, "CONNECTED", js(connected), 1)))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	foreign := "http://" + ln.Addr().String() + "/foreign"

	b.do("open sources", 30*time.Second, chromedp.Navigate(sourcesURL), chromedp.WaitVisible(chromedp.ID("sources")))
	before := len(b.consoleWarnings())
	get(b, "mark page", chromedp.Evaluate[string](`window.e2eMarker = "still here"`))
	// As if the user clicked something that opened the other site in a popup.
	require.True(t, get(b, "open foreign page", chromedp.Evaluate[bool](`window.open(`+js(foreign)+`, "foreign") !== null`, userGesture)))
	deadline := time.Now().Add(20 * time.Second)
	for {
		ignored := 0
		for _, w := range b.consoleWarnings()[before:] {
			if strings.Contains(w, "ignored a message from another origin") {
				ignored++
			}
		}
		if ignored >= 2 {
			break
		}
		if time.Now().After(deadline) {
			b.fail("messages ignored", "the page did not report ignoring the foreign messages; warnings: %q", b.consoleWarnings()[before:])
		}
		time.Sleep(100 * time.Millisecond)
	}
	type pageState struct {
		Marker       string `json:"marker"`
		StatusHidden bool   `json:"statusHidden"`
		Images       int    `json:"images"`
	}
	state := get(b, "page untouched", chromedp.Evaluate[pageState](`({marker: window.e2eMarker, statusHidden: document.getElementById("status").hidden, images: document.images.length})`))
	require.Equal(t, "still here", state.Marker, "the page did not reload on a forged message")
	require.True(t, state.StatusHidden, "the page showed nothing for a forged message")
	require.Zero(t, state.Images, "no markup from a message reached the page")

	// The foreign page's own probe: /connected, opened by another origin, must not post to it.
	probe, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(foreignTarget(t, b, foreign)))
	defer cancel()
	ctx, cancelProbe := context.WithTimeout(probe, 10*time.Second)
	defer cancelProbe()
	_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`probe()`, userGesture))
	require.NoError(t, err)
	var title string
	deadline = time.Now().Add(20 * time.Second)
	for title != "clean" {
		ctx, cancelRun := context.WithTimeout(probe, 5*time.Second)
		title, err = chromedp.Run(ctx, chromedp.Title())
		cancelRun()
		require.NoError(t, err)
		require.NotEqual(t, "leaked", title, "/connected posted its result to a foreign opener")
		require.NotEqual(t, "blocked", title, "the foreign page could not open /connected")
		if time.Now().After(deadline) {
			b.fail("foreign probe", "the foreign page never finished its probe (title %q)", title)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// foreignTarget returns the target id of the open page at url.
func foreignTarget(t *testing.T, b *browser, url string) (id target.ID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	targets, err := chromedp.Targets(ctx)
	require.NoError(t, err)
	for _, tg := range targets {
		if tg.Type == "page" && tg.URL == url {
			return tg.TargetID
		}
	}
	t.Fatalf("no page at %s", url)
	return ""
}
