//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is the browser the suite drives: Debian's chromium package, or $E2E_CHROMIUM.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("E2E_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("e2e: no browser at %s: install it (apt-get install chromium chromium-driver) or set E2E_CHROMIUM", path)
	}
	return path
}

// browser is one headless Chromium with one tab, as seen by one (sub)test.
type browser struct {
	t   *testing.T
	ctx context.Context
	tab *tabLog
}

// tabLog is what the tab has reported, shared by every subtest's view of the browser.
type tabLog struct {
	mu       sync.Mutex
	warnings []string
	// saved names the tests whose failure already has a screenshot.
	saved map[string]bool
}

// on returns the same browser reporting failures to t. Whatever makes t fail, a screenshot of the page
// is saved when it ends.
func (b *browser) on(t *testing.T) *browser {
	tb := &browser{t: t, ctx: b.ctx, tab: b.tab}
	t.Cleanup(func() {
		if t.Failed() && !tb.tab.wasSaved(t.Name()) {
			t.Log(strings.TrimSpace(tb.saveArtifacts("end")))
		}
	})
	return tb
}

func (l *tabLog) wasSaved(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.saved[name]
}

// newBrowser starts Chromium with a fresh profile. The popup blocker stays on, as in a user's browser:
// the console must open its popup from the click itself.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1024),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first run starts the browser; it must not carry a timeout (that would stop the browser).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("e2e: start chromium: %v", err)
	}
	b := &browser{t: t, ctx: ctx, tab: &tabLog{saved: map[string]bool{}}}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			// The Disconnect button asks for confirmation; say yes. Commands cannot run inside a listener.
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value))
				}
				b.tab.mu.Lock()
				b.tab.warnings = append(b.tab.warnings, strings.Join(parts, " "))
				b.tab.mu.Unlock()
			}
		}
	})
	if err != nil {
		t.Fatalf("e2e: listen: %v", err)
	}
	return b
}

// consoleWarnings returns the console.warn messages the tab logged so far.
func (b *browser) consoleWarnings() []string {
	b.tab.mu.Lock()
	defer b.tab.mu.Unlock()
	return append([]string(nil), b.tab.warnings...)
}

// do performs a named step; when it fails the test stops with a screenshot of the page.
func (b *browser) do(step string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(step, "%v", err)
	}
}

// get runs one action that returns a value, as a named step.
func get[T any](b *browser, step string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(step, "%v", err)
	}
	return v
}

// fail saves a screenshot and the page's HTML, then stops the test with the step's message.
func (b *browser) fail(step, format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	saved := b.saveArtifacts(step)
	b.t.Fatalf("step %q failed: %s%s", step, msg, saved)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// saveArtifacts writes the page as PNG and HTML to $E2E_ARTIFACTS (default console/e2e/screenshots).
func (b *browser) saveArtifacts(step string) string {
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		dir = "screenshots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Sprintf(" (no screenshot: %v)", err)
	}
	b.tab.mu.Lock()
	b.tab.saved[b.t.Name()] = true
	b.tab.mu.Unlock()
	base := filepath.Join(dir, unsafeName.ReplaceAllString(b.t.Name()+"-"+step, "_"))
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	url, _ := chromedp.Run(ctx, chromedp.Location())
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Sprintf("\n  page: %s (no screenshot: %v)", url, err)
	}
	if err := os.WriteFile(base+".png", png, 0o644); err != nil {
		return fmt.Sprintf("\n  page: %s (no screenshot: %v)", url, err)
	}
	if html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html"))); err == nil {
		_ = os.WriteFile(base+".html", []byte(html), 0o644)
	}
	abs, _ := filepath.Abs(base + ".png")
	return fmt.Sprintf("\n  page: %s\n  screenshot: %s (and .html)", url, abs)
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// userGesture makes an evaluation count as a user action (so it may open a popup).
func userGesture(p *runtime.EvaluateParams) { v := true; p.UserGesture = &v }

// attr returns an attribute of the first element matching sel.
func (b *browser) attr(step, sel, name string) string {
	b.t.Helper()
	res := get(b, step, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if !res.Exists {
		b.fail(step, "%s has no attribute %s", sel, name)
	}
	return res.Value
}

// text returns the text of the first element matching sel.
func (b *browser) text(step, sel string) string {
	b.t.Helper()
	return get(b, step, chromedp.Text(chromedp.CSS(sel)))
}

// waitFor polls cond (a JavaScript expression) until it is true. With reload set the page is reloaded
// before each look, for server-rendered state that changes without the page knowing.
func (b *browser) waitFor(step, cond string, timeout time.Duration, reload bool, why func() string) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
		var err error
		if reload {
			err = chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitReady(chromedp.CSS("body")))
		}
		ok := false
		if err == nil {
			ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		}
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("not true after %s: %s", timeout, cond)
			if why != nil {
				msg += "\n  " + why()
			}
			if err != nil {
				msg += fmt.Sprintf("\n  last error: %v", err)
			}
			b.fail(step, "%s", msg)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// pageTargets returns the URLs of the open pages (tabs and popups).
func (b *browser) pageTargets() []string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	targets, err := chromedp.Targets(ctx)
	if err != nil {
		b.t.Fatalf("e2e: list targets: %v", err)
	}
	var urls []string
	for _, t := range targets {
		if t.Type == "page" {
			urls = append(urls, t.URL)
		}
	}
	return urls
}
