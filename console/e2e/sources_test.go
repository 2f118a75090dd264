//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/demoflow"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// TestSourcesPageControls drives the sources page's controls in the browser: the confirmations after
// connect, link, unlink and disconnect; editing a resource's sync settings; cancelling a running backfill
// (slowed down in the simulator); restarting a failed backfill job; reconnecting a connection that fell into
// error; filtering and paging the observations; and the Observations counts against the database. It saves
// a screenshot of the page as TestSourcesPageControls-after.png in the artifacts folder.
func TestSourcesPageControls(t *testing.T) {
	s := startStack(t)
	b := newBrowser(t)
	token := s.Token(t, "user_e2e", "org_e2e", "admin")
	api := s.Client(token)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	sourcesURL := signInAndCreateWorkspace(t, b, s, token)
	workspaceID := workspaceIDOf(t, b)
	github := `section[data-provider="github"]`

	// Connect in the popup: the page reloads and says so.
	b.do("connect github", 30*time.Second, chromedp.Click(chromedp.CSS(github+` button[data-action="connect"]`)))
	b.waitFor("connected notice", noticeIs("Connected."), 45*time.Second, false, nil)
	requirePopupClosed(t, b)

	// Link with the backfill option, which sits apart from the resource list.
	form := github + ` form[data-action="link"]`
	require.Zero(t, get(b, "backfill option apart", chromedp.Evaluate[int](`document.querySelectorAll(`+js(form+` fieldset.resources input[name="backfill"]`)+`).length`)))
	b.do("link", 30*time.Second,
		chromedp.Click(chromedp.CSS(form+` input[name="resource"]:not(:disabled)`)),
		chromedp.Click(chromedp.CSS(form+` fieldset.link-options input[name="backfill"]`)),
		chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)),
	)
	b.waitFor("linked notice", noticeIs("Linked."), 30*time.Second, false, nil)
	ghRow := github + ` tr.integration`
	ghID := b.attr("github integration", ghRow, "data-integration-id")
	ghRow = fmt.Sprintf(`tr.integration[data-integration-id=%q]`, ghID)
	waitBackfill(b, ghRow, "completed")

	// Vercel and Linear are connected and linked through the API, and backfilled.
	vcID := connectAndLink(t, ctx, api, "vercel", workspaceID, true)
	liID := connectAndLink(t, ctx, api, "linear", workspaceID, true)
	vcRow := fmt.Sprintf(`tr.integration[data-integration-id=%q]`, vcID)
	liRow := fmt.Sprintf(`tr.integration[data-integration-id=%q]`, liID)
	b.do("open sources", 30*time.Second, chromedp.Navigate(sourcesURL), chromedp.WaitVisible(chromedp.ID("sources")))
	require.Regexp(t, `^.+ \([A-Z]+\)$`, b.text("linear name", liRow+` td.name`), "a Linear team is named as in the picker, with its key")

	t.Run("counts match the database", func(t *testing.T) {
		b := b.on(t)
		conn, err := pgx.Connect(ctx, s.DatabaseURL)
		require.NoError(t, err)
		defer conn.Close(ctx)
		for _, id := range []string{ghID, vcID, liID} {
			var n int
			require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM lightfast_workspace_observations WHERE integration_id = $1`, id).Scan(&n))
			require.Positive(t, n, "the backfill of %s imported observations", id)
			shown := b.text("count "+id, fmt.Sprintf(`tr.integration[data-integration-id=%q] td.documents`, id))
			require.Equal(t, strconv.Itoa(n), strings.TrimSpace(shown), "Observations shown for %s", id)
		}
	})

	t.Run("validate the GitHub installation", func(t *testing.T) {
		b := b.on(t)
		before := githubValidatedAt(t, ctx, api)
		b.do("validate", 30*time.Second, chromedp.Click(chromedp.CSS(github+` button[data-action="validate"]`)))
		b.waitFor("validated notice", noticeIs("GitHub installation checked."), 30*time.Second, false, nil)
		require.True(t, githubValidatedAt(t, ctx, api).After(before), "ValidateInstallations re-read the installation")
	})

	t.Run("edit sync settings", func(t *testing.T) {
		b := b.on(t)
		settings := fmt.Sprintf(`form[data-action="sync-settings"][data-integration-id=%q]`, ghID)
		b.do("edit", 30*time.Second,
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr.integration-details[data-integration-id=%q] summary`, ghID))),
			chromedp.WaitVisible(chromedp.CSS(settings)),
			chromedp.Evaluate[chromedp.Void](`(() => {
				const f = document.querySelector(`+js(settings)+`);
				f.querySelector('input[value="issues"]').checked = false;
				f.querySelector('input[value="issue_comment"]').checked = false;
				f.elements.branches.value = "main\nrelease/*\n";
				f.elements.paths.value = "docs/**";
				f.elements.autoSync.checked = false;
			})()`),
			chromedp.Click(chromedp.CSS(settings+` button[type="submit"]`)),
		)
		b.waitFor("saved notice", noticeIs("Sync settings saved."), 30*time.Second, false, nil)
		in := integration(t, ctx, api, workspaceID, ghID)
		sc := in.GetSyncConfig()
		require.ElementsMatch(t, []string{"push", "pull_request", "release"}, sc.GetEvents())
		require.Equal(t, []string{"main", "release/*"}, sc.GetBranches())
		require.Equal(t, []string{"docs/**"}, sc.GetPaths())
		require.False(t, sc.GetAutoSync())
		// The reloaded form shows what was saved.
		type shown struct {
			Issues   bool   `json:"issues"`
			Push     bool   `json:"push"`
			Branches string `json:"branches"`
			AutoSync bool   `json:"autoSync"`
		}
		got := get(b, "form after save", chromedp.Evaluate[shown](`(() => {
			const f = document.querySelector(`+js(settings)+`);
			return {issues: f.querySelector('input[value="issues"]').checked, push: f.querySelector('input[value="push"]').checked,
				branches: f.elements.branches.value, autoSync: f.elements.autoSync.checked};
		})()`))
		require.Equal(t, shown{Issues: false, Push: true, Branches: "main\nrelease/*", AutoSync: false}, got)
	})

	t.Run("cancel a running backfill", func(t *testing.T) {
		b := b.on(t)
		// Every page of Vercel deployments now takes 4 s: the backfill is running long enough to cancel.
		simFault(t, ctx, api, map[string]any{"key": "vercel.deployments.list", "delay": "4s", "times": -1})
		defer clearSimFaults(t, ctx, api)
		b.do("start", 30*time.Second, chromedp.Click(chromedp.CSS(vcRow+` button[data-action="backfill"]`)))
		b.waitFor("running", `["pending","running"].includes(document.querySelector(`+js(vcRow)+`).dataset.backfillStatus)`, 15*time.Second, false, nil)
		b.do("cancel", 30*time.Second,
			chromedp.WaitVisible(chromedp.CSS(vcRow+` button[data-action="cancel-backfill"]`)),
			chromedp.Click(chromedp.CSS(vcRow+` button[data-action="cancel-backfill"]`)),
		)
		b.waitFor("cancelled", `document.querySelector(`+js(vcRow)+`).dataset.backfillStatus === "cancelled"`, 15*time.Second, false, nil)
		st, err := api.Backfills.GetBackfillStatus(ctx, connect.NewRequest(&consolev1.GetBackfillStatusRequest{IntegrationId: vcID}))
		require.NoError(t, err)
		require.Equal(t, consolev1.BackfillStatus_BACKFILL_STATUS_CANCELLED, st.Msg.GetBackfill().GetStatus())
		require.True(t, get(b, "cancel hidden", chromedp.Evaluate[bool](`document.querySelector(`+js(vcRow+` button[data-action="cancel-backfill"]`)+`).hidden`)))
	})

	t.Run("restart a failed job", func(t *testing.T) {
		b := b.on(t)
		// GitHub answers the pull requests list with 404: the backfill fails for good and its job is cancelled.
		simFault(t, ctx, api, map[string]any{"key": "github.repos.pulls", "status": 404, "times": -1})
		b.do("start", 30*time.Second, chromedp.Click(chromedp.CSS(ghRow+` button[data-action="backfill"]`)))
		waitBackfill(b, ghRow, "failed")
		clearSimFaults(t, ctx, api)
		restart := fmt.Sprintf(`tr.integration-details[data-integration-id=%q] button[data-action="restart-job"]`, ghID)
		b.waitFor("restart offered", `!!document.querySelector(`+js(restart)+`)`, 30*time.Second, true, nil)
		jobID := b.attr("job id", restart, "data-job-id")
		b.do("restart", 30*time.Second,
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr.integration-details[data-integration-id=%q] summary`, ghID))),
			chromedp.Click(chromedp.CSS(restart)),
		)
		b.waitFor("restarted notice", noticeIs("Job restarted."), 30*time.Second, false, nil)
		// The same job runs again and the backfill completes.
		waitBackfill(b, ghRow, "completed")
		state := b.attr("job state", fmt.Sprintf(`tr.job[data-job-id=%q]`, jobID), "data-job-state")
		b.waitFor("job completed", `document.querySelector(`+js(fmt.Sprintf(`tr.job[data-job-id=%q]`, jobID))+`).dataset.jobState === "completed"`, 30*time.Second, true,
			func() string { return "job state " + state })
		b.do("open details", 30*time.Second, chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr.integration-details[data-integration-id=%q] summary`, ghID))))
		t.Log(b.saveArtifacts("settings-and-jobs"))
	})

	t.Run("reconnect an error connection", func(t *testing.T) {
		b := b.on(t)
		in := integration(t, ctx, api, workspaceID, liID)
		// The gateway puts a connection into error when the provider stops accepting its token.
		conn, err := pgx.Connect(ctx, s.DatabaseURL)
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `UPDATE lightfast_gw_installations SET status = 'error', status_reason = 'reauth_required' WHERE id = $1`, in.GetInstallationId())
		require.NoError(t, err)
		broken := fmt.Sprintf(`.connection[data-installation-id=%q]`, in.GetInstallationId())
		b.do("open sources", 30*time.Second, chromedp.Navigate(sourcesURL), chromedp.WaitVisible(chromedp.ID("sources")))
		require.Equal(t, "error", b.attr("status", broken, "data-status"))
		require.Equal(t, "reauth_required", strings.TrimSpace(b.text("reason", broken+` .status-reason`)))
		t.Log(b.saveArtifacts("after"))
		b.do("reconnect", 30*time.Second, chromedp.Click(chromedp.CSS(broken+` button[data-reconnect]`)))
		b.waitFor("reconnected", noticeIs("Connected.")+` && document.querySelector(`+js(broken)+`).dataset.status === "active"`, 45*time.Second, false, nil)
		requirePopupClosed(t, b)
		var status string
		require.NoError(t, conn.QueryRow(ctx, `SELECT status FROM lightfast_gw_installations WHERE id = $1`, in.GetInstallationId()).Scan(&status))
		require.Equal(t, "active", status)
	})

	t.Run("observations filtered and paged", func(t *testing.T) {
		b := b.on(t)
		b.do("filter", 30*time.Second,
			chromedp.Navigate(sourcesURL),
			chromedp.WaitVisible(chromedp.CSS(`.observation-filter`)),
			chromedp.SetValue(chromedp.CSS(`.observation-filter select`), "github"),
			chromedp.Click(chromedp.CSS(`.observation-filter button`)),
		)
		b.waitFor("filtered", `new URL(location.href).searchParams.get("provider") === "github" && document.querySelectorAll(".observation").length > 0`, 15*time.Second, false, nil)
		first := providerLabels(b)
		require.Len(t, first.Titles, 10)
		require.Equal(t, []string{"GitHub"}, slices.Compact(first.Providers))
		b.do("more", 30*time.Second, chromedp.Click(chromedp.CSS(`.pager a.more`)))
		// The address changes when the next document commits, before it is parsed: wait for it whole.
		b.waitFor("next page", `new URL(location.href).searchParams.has("cursor") && document.readyState === "complete"`, 15*time.Second, false, nil)
		next := providerLabels(b)
		require.NotEmpty(t, next.Titles)
		require.Equal(t, []string{"GitHub"}, slices.Compact(next.Providers))
		for _, title := range next.Titles {
			require.NotContains(t, first.Titles, title, "the next page does not repeat the first")
		}
	})

	t.Run("unlink", func(t *testing.T) {
		b := b.on(t)
		b.do("open sources", 30*time.Second, chromedp.Navigate(sourcesURL), chromedp.WaitVisible(chromedp.ID("sources")))
		b.do("unlink", 30*time.Second, chromedp.Click(chromedp.CSS(liRow+` button[data-action="unlink"]`)))
		b.waitFor("unlinked notice", noticeIs("Unlinked.")+` && !document.querySelector(`+js(liRow)+`)`, 30*time.Second, false, nil)
		srcs, err := api.Integrations.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: workspaceID}))
		require.NoError(t, err)
		for _, in := range srcs.Msg.GetIntegrations() {
			require.NotEqual(t, liID, in.GetId(), "the unlinked integration is gone")
		}
	})

	t.Run("disconnect", func(t *testing.T) {
		b := b.on(t)
		vc := integration(t, ctx, api, workspaceID, vcID)
		b.do("disconnect", 30*time.Second, chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-action="disconnect"][data-installation-id=%q]`, vc.GetInstallationId()))))
		b.waitFor("disconnected notice", noticeIs("Disconnected."), 30*time.Second, false, nil)
		// Shown once: the notice is taken out of the address, so a reload does not repeat it.
		b.do("reload", 30*time.Second, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("sources")))
		require.True(t, get(b, "notice gone", chromedp.Evaluate[bool](`document.getElementById("status").hidden`)))
	})
}

// noticeIs is a JavaScript condition: the status line shows the server-rendered notice text.
func noticeIs(text string) string {
	return `(() => { const s = document.getElementById("status"); return !!s && !s.hidden && s.dataset.kind === "ok" && s.textContent.trim() === ` + js(text) + `; })()`
}

// waitBackfill waits until the row's backfill reaches status (the page polls it).
func waitBackfill(b *browser, row, status string) {
	b.t.Helper()
	b.waitFor("backfill "+status, `(() => { const r = document.querySelector(`+js(row)+`); return !!r && r.dataset.backfillStatus === `+js(status)+`; })()`,
		2*time.Minute, false, func() string { return "backfill cell: " + b.text("backfill cell", row+` td.backfill`) })
}

// connectAndLink connects provider through the API, links its first resource to the workspace, backfills it
// when asked and waits for the backfill to complete. It returns the integration id.
func connectAndLink(t *testing.T, ctx context.Context, api *demoflow.Client, provider, workspaceID string, backfill bool) string {
	t.Helper()
	res, err := api.Connect(ctx, provider)
	require.NoError(t, err)
	items, err := api.Linkables(ctx, provider, res.InstallationID)
	require.NoError(t, err)
	require.NotEmpty(t, items)
	in, err := api.Link(ctx, provider, workspaceID, res.InstallationID, items[0])
	require.NoError(t, err)
	if backfill {
		_, err := api.Backfills.StartBackfill(ctx, connect.NewRequest(&consolev1.StartBackfillRequest{IntegrationId: in.GetId()}))
		require.NoError(t, err)
		st, err := api.WaitBackfill(ctx, in.GetId(), 2*time.Minute, nil)
		require.NoError(t, err)
		require.Equal(t, consolev1.BackfillStatus_BACKFILL_STATUS_COMPLETED, st.GetStatus(), "%s backfill: %s", provider, st.GetError())
	}
	return in.GetId()
}

// integration reads one integration of the workspace through the API.
func integration(t *testing.T, ctx context.Context, api *demoflow.Client, workspaceID, id string) *consolev1.Integration {
	t.Helper()
	srcs, err := api.Integrations.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: workspaceID}))
	require.NoError(t, err)
	for _, in := range srcs.Msg.GetIntegrations() {
		if in.GetId() == id {
			return in
		}
	}
	t.Fatalf("no integration %s", id)
	return nil
}

type observationRows struct {
	Providers []string `json:"providers"`
	Titles    []string `json:"titles"`
}

// providerLabels reads the observation rows on the page.
func providerLabels(b *browser) observationRows {
	return get(b, "observation rows", chromedp.Evaluate[observationRows](`(() => {
		const rows = Array.from(document.querySelectorAll(".observation"));
		return {providers: rows.map(r => r.querySelector(".provider-label").textContent.trim()),
			titles: rows.map(r => r.querySelector(".title").textContent.trim() + " @ " + r.querySelector("time").getAttribute("datetime"))};
	})()`))
}

// simFault adds a misbehaviour to the simulator through its control API (POST /_sim/faults).
func simFault(t *testing.T, ctx context.Context, api *demoflow.Client, fault map[string]any) {
	t.Helper()
	body, err := json.Marshal(fault)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api.SimURL+"/_sim/faults", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Less(t, resp.StatusCode, 300, "POST /_sim/faults answered %d", resp.StatusCode)
}

// clearSimFaults removes every scripted misbehaviour (DELETE /_sim/faults).
func clearSimFaults(t *testing.T, ctx context.Context, api *demoflow.Client) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, api.SimURL+"/_sim/faults", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Less(t, resp.StatusCode, 300)
}

// githubValidatedAt is the latest last_validated_at of the organisation's GitHub installations.
func githubValidatedAt(t *testing.T, ctx context.Context, api *demoflow.Client) time.Time {
	t.Helper()
	conns, err := api.Connections.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	require.NoError(t, err)
	var latest time.Time
	for _, c := range conns.Msg.GetConnections() {
		for _, in := range c.GetGithub().GetInstallations() {
			if at := in.GetLastValidatedAt(); at.IsValid() && at.AsTime().After(latest) {
				latest = at.AsTime()
			}
		}
	}
	return latest
}
