package providers_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/gateway/internal/providers"
)

func TestErrorCode(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"error":"invalid_grant","error_description":"nope"}`:             "invalid_grant",
		`{"error":{"code":"forbidden","message":"Not authorized"}}`:        "forbidden",
		`{"errors":[{"message":"x","extensions":{"code":"RATELIMITED"}}]}`: "RATELIMITED",
		`{"detail":"Invalid token"}`:                                       "",
		`{"error":"the token lin_oauth_abc is not valid for this client"}`: "", // free text never becomes a code
		`not json`: "",
	} {
		require.Equal(t, want, providers.ErrorCode([]byte(body)), body)
	}
}

func TestNextLinkAndSameOrigin(t *testing.T) {
	t.Parallel()
	h := http.Header{"Link": {`<https://api.github.com/user/installations?page=2>; rel="next", <https://api.github.com/user/installations?page=5>; rel="last"`}}
	next := providers.NextLink(h)
	require.Equal(t, "https://api.github.com/user/installations?page=2", next)
	require.True(t, providers.SameOrigin("https://api.github.com", next))
	require.False(t, providers.SameOrigin("https://api.github.com", "https://evil.example/user/installations"))
	require.False(t, providers.SameOrigin("https://api.github.com", "http://api.github.com/x"))
	require.Empty(t, providers.NextLink(http.Header{"Link": {`<https://x/?page=1>; rel="prev"`}}))
	require.Empty(t, providers.NextLink(http.Header{}))
}

func TestErrorNeverCarriesTheURL(t *testing.T) {
	t.Parallel()
	// A transport failure on a URL that carries a code: the error names the call, not the URL.
	_, err := providers.Do(t.Context(), providers.NewHTTPClient(), providers.Call{
		Provider: "github", Op: "code exchange", Method: http.MethodGet, URL: "http://127.0.0.1:1/cb?code=secret-code-123",
	})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "secret-code-123")
	var perr *providers.Error
	require.ErrorAs(t, err, &perr)
	require.True(t, perr.Temporary())
}
