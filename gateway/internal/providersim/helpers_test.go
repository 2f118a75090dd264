package providersim

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// appKey is generated once: RSA key generation is slow and every test can share it.
var appKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// testBundle is what setup returns: the simulator under test and the
// collaborators tests need to drive it.
type testBundle struct {
	sim    *Simulator
	urls   URLs
	key    *rsa.PrivateKey
	client *http.Client // does not follow redirects, so consent steps can be inspected
}

// setup starts a simulator on httptest with the shared App key; mutate
// adjusts the config first.
func setup(t *testing.T, mutate ...func(*Config)) testBundle {
	t.Helper()
	cfg := Config{GitHubAppPublicKey: &appKey().PublicKey}
	for _, m := range mutate {
		m(&cfg)
	}
	sim, urls := Start(t, cfg)
	return testBundle{
		sim:  sim,
		urls: urls,
		key:  appKey(),
		client: &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

func (r response) location(t *testing.T) *url.URL {
	t.Helper()
	require.Equal(t, http.StatusFound, r.status, "body: %s", r.body)
	u, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	return u
}

// do sends a request. body may be nil, url.Values (form), []byte or a value
// to marshal as JSON. headers are name/value pairs.
func (b testBundle) do(t *testing.T, method, target string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	contentType := ""
	switch v := body.(type) {
	case nil:
	case url.Values:
		rd, contentType = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
	case []byte:
		rd, contentType = bytes.NewReader(v), "application/json"
	default:
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		rd, contentType = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, rd)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

func (b testBundle) get(t *testing.T, target, tok string) response {
	t.Helper()
	if tok == "" {
		return b.do(t, http.MethodGet, target, nil)
	}
	return b.do(t, http.MethodGet, target, nil, "Authorization", "Bearer "+tok)
}

var linkRel = regexp.MustCompile(`<([^>]+)>; rel="([a-z]+)"`)

// links parses an RFC 5988 Link header into rel → URL.
func links(h http.Header) map[string]string {
	out := map[string]string{}
	for _, m := range linkRel.FindAllStringSubmatch(h.Get("Link"), -1) {
		out[m[2]] = m[1]
	}
	return out
}

// appJWT signs a valid App JWT with the shared key.
func (b testBundle) appJWT(t *testing.T) string {
	t.Helper()
	j, err := SignAppJWT(b.key, b.sim.Config().GitHubAppID, time.Now())
	require.NoError(t, err)
	return j
}

// installationToken mints an installation token through the real endpoint.
func (b testBundle) installationToken(t *testing.T, id int64) string {
	t.Helper()
	r := b.do(t, http.MethodPost, b.urls.GitHubAPI+"/app/installations/"+itoa(id)+"/access_tokens", nil,
		"Authorization", "Bearer "+b.appJWT(t))
	require.Equal(t, http.StatusCreated, r.status, "body: %s", r.body)
	var tok struct {
		Token string `json:"token"`
	}
	r.json(t, &tok)
	return tok.Token
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// recorder is a webhook receiver that keeps what it got.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
	srv  *httptest.Server
}

type recorded struct {
	header http.Header
	body   []byte
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{header: r.Header.Clone(), body: body})
		rec.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) last(t *testing.T) recorded {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.NotEmpty(t, rec.reqs)
	return rec.reqs[len(rec.reqs)-1]
}

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type jsonRaw = json.RawMessage
