package pages

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/securitytest"
)

var dataNext = regexp.MustCompile(`data-next="([^"]*)"`)

// TestSecuritySignInNextIsNeverAnotherOrigin is the sign-in page's part of the security suite's
// open-redirect cases: whatever `next` carries, the page hands its script (which calls
// window.location.assign with it) a path that resolves on the Console's own origin.
func TestSecuritySignInNextIsNeverAnotherOrigin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	base, err := url.Parse(origin + "/sign-in")
	require.NoError(t, err)
	for _, evil := range securitytest.OpenRedirects(origin) {
		rec := b.get(t, "/sign-in?next="+url.QueryEscape(evil), "")
		require.Equal(t, http.StatusOK, rec.Code, evil)
		m := dataNext.FindStringSubmatch(rec.Body.String())
		require.Len(t, m, 2, evil)
		next := html.UnescapeString(m[1])
		require.True(t, strings.HasPrefix(next, "/"), "%q became %q", evil, next)
		require.False(t, strings.HasPrefix(next, "//"), "%q became %q", evil, next)
		require.False(t, strings.ContainsAny(next, "\\\t\r\n "), "%q became %q", evil, next)
		u, err := base.Parse(next)
		require.NoError(t, err, evil)
		require.Equal(t, base.Scheme+"://"+base.Host, u.Scheme+"://"+u.Host, "%q became %q", evil, next)
		require.Empty(t, u.User, evil)
	}
}
