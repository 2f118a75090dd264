package pages

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

func TestSourcesPageControls(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec := b.get(t, "/workspaces/ws_1/sources", token(t, "org_a"))
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	require.NotContains(t, body, markup)

	// A connection in error is shown with its reason and a Reconnect button that runs the connect flow.
	require.Contains(t, body, `<div class="connection" data-installation-id="inst_li" data-external-id="org-1" data-status="error">`)
	require.Contains(t, body, `<span class="muted status-reason">reauth_required</span>`)
	require.Contains(t, body, `data-action="connect" data-reconnect="inst_li" data-provider="linear" data-provider-enum="PROVIDER_LINEAR">Reconnect</button>`)
	require.Equal(t, 1, strings.Count(body, ">Reconnect</button>"), "only the broken connection offers Reconnect")
	// Validate is offered for the GitHub connection only.
	require.Contains(t, body, `data-action="validate" data-installation-id="inst_gh"`)
	require.Equal(t, 1, strings.Count(body, `data-action="validate"`))

	// Each linked resource has Unlink, and a running backfill can be cancelled (an idle one cannot).
	for _, id := range []string{"int_gh", "int_vc", "int_vc2", "int_li"} {
		require.Contains(t, body, `data-action="unlink" data-integration-id="`+id+`"`)
	}
	require.Contains(t, body, `data-action="cancel-backfill" data-integration-id="int_gh">Cancel backfill`)
	require.Contains(t, body, `data-action="cancel-backfill" data-integration-id="int_li" hidden>`)

	// The settings form shows the sync_config: every event the provider handles, the chosen ones checked;
	// branches and paths (GitHub only) one a line; auto-sync.
	form := section(t, body, `<form class="sync-settings" data-action="sync-settings" data-integration-id="int_gh">`, `</form>`)
	for _, e := range []string{"push", "release"} {
		require.Contains(t, form, `value="`+e+`" checked>`)
	}
	for _, e := range []string{"pull_request", "issues", "issue_comment"} {
		require.Regexp(t, `value="`+e+`">`, form)
	}
	require.Contains(t, form, "<textarea name=\"branches\" rows=\"2\">main\nrelease/*</textarea>")
	require.Contains(t, form, `<textarea name="paths" rows="2">docs/**</textarea>`)
	require.Contains(t, form, `<input type="checkbox" name="autoSync"> Auto-sync`)
	linear := section(t, body, `<form class="sync-settings" data-action="sync-settings" data-integration-id="int_li">`, `</form>`)
	require.NotContains(t, linear, "branches", "branches and paths are GitHub's only")
	require.Contains(t, linear, `value="Issue">`)

	// Jobs: the failed (discarded) one has Restart, the completed one has not.
	require.Contains(t, body, `<tr class="job" data-job-id="11" data-job-state="discarded">`)
	require.Contains(t, body, `data-action="restart-job" data-job-id="11">Restart</button>`)
	require.Contains(t, body, `<tr class="job" data-job-id="12" data-job-state="completed">`)
	require.NotContains(t, body, `data-job-id="12">Restart`)
	require.Contains(t, body, "backfill.run #11")
	require.Contains(t, body, "github answered 404 &lt;script&gt;")
	require.NotContains(t, body, "first attempt timed out", "a completed job shows no error of an earlier attempt")

	// The backfill option sits in its own fieldset after the resource list, not in it.
	link := section(t, body, `<form class="link-form"`, `</form>`)
	resources := section(t, link, `<fieldset class="resources">`, `</fieldset>`)
	require.NotContains(t, resources, `name="backfill"`)
	require.Contains(t, section(t, link, `<fieldset class="link-options">`, `</fieldset>`), `name="backfill"`)
}

func TestSourcesPageNames(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := b.get(t, "/workspaces/ws_1/sources", token(t, "org_a")).Body.String()
	// Linear teams are named as in the picker, with their key.
	require.Contains(t, body, `<td class="name">Engineering (ENG)</td>`)
	// Two Vercel projects of one name: each row says its team (or, unknown, its id).
	require.Contains(t, body, `<td class="name">site &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; <span class="muted qualifier">(team-b)</span></td>`)
	require.Contains(t, body, `<td class="name">site &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; <span class="muted qualifier">(prj_1)</span></td>`)
	// A unique name has no qualifier.
	require.Contains(t, body, `<td class="name">octo/one</td>`)
}

func TestSourcesPageNotice(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := token(t, "org_a")
	for notice, want := range map[string]string{
		"linked": "Linked.", "unlinked": "Unlinked.", "connected": "Connected.", "disconnected": "Disconnected.",
		"saved": "Sync settings saved.", "restarted": "Job restarted.",
	} {
		body := b.get(t, "/workspaces/ws_1/sources?notice="+notice, tok).Body.String()
		require.Contains(t, body, `<p id="status" class="status" role="status" data-kind="ok" data-notice>`+want+`</p>`, notice)
	}
	// Anything else shows nothing: the address never supplies the text.
	for _, q := range []string{"?notice=" + urlEscape(markup), "?notice=Linked.", ""} {
		rec := b.get(t, "/workspaces/ws_1/sources"+q, tok)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Body.String(), `<p id="status" class="status" role="status" hidden></p>`, q)
		require.NotContains(t, rec.Body.String(), markup)
	}
}

func TestSourcesPageObservationsFilterAndPaging(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok := token(t, "org_a")

	body := b.get(t, "/workspaces/ws_1/sources", tok).Body.String()
	require.Len(t, b.api.obsRequests, 1)
	require.Equal(t, consolev1.Provider_PROVIDER_UNSPECIFIED, b.api.obsRequests[0].GetProvider())
	require.Empty(t, b.api.obsRequests[0].GetCursor())
	require.EqualValues(t, observationsPageSize, b.api.obsRequests[0].GetPageSize())
	// The next page is a link carrying the API's cursor, escaped.
	require.Contains(t, body, `<a class="more" href="?cursor=c%2f2%2b%3d#observations">More</a>`)
	require.NotContains(t, body, `class="newest"`)

	rec := b.get(t, "/workspaces/ws_1/sources?provider=sentry&cursor=c%2F2%2B%3D", tok)
	require.Equal(t, http.StatusOK, rec.Code)
	body = rec.Body.String()
	require.Len(t, b.api.obsRequests, 2)
	require.Equal(t, consolev1.Provider_PROVIDER_SENTRY, b.api.obsRequests[1].GetProvider())
	require.Equal(t, "c/2+=", b.api.obsRequests[1].GetCursor())
	require.Contains(t, body, `<option value="sentry" selected>Sentry</option>`)
	require.Contains(t, body, `<a class="more" href="?provider=sentry&amp;cursor=c%2f2%2b%3d#observations">More</a>`)
	require.Contains(t, body, `<a class="newest" href="?provider=sentry#observations">Newest</a>`)

	// Bad input: a clear 400, and the observations are not asked for.
	for _, q := range []string{"?provider=" + urlEscape(markup), "?provider=gitlab", "?cursor=" + strings.Repeat("x", maxCursorLen+1)} {
		rec := b.get(t, "/workspaces/ws_1/sources"+q, tok)
		require.Equal(t, http.StatusBadRequest, rec.Code, q)
		require.NotContains(t, rec.Body.String(), markup)
	}
	require.Len(t, b.api.obsRequests, 2)
	// A cursor the API rejects is a 400 with its message.
	rec = b.get(t, "/workspaces/ws_1/sources?cursor=bad", tok)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), "invalid cursor")
}

// section returns the part of s from the first start to the end that follows it.
func section(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	require.GreaterOrEqual(t, i, 0, "no %q", start)
	j := strings.Index(s[i:], end)
	require.GreaterOrEqual(t, j, 0, "no %q after %q", end, start)
	return s[i : i+j+len(end)]
}
