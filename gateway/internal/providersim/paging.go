package providersim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// requestURL reconstructs the absolute URL the client called, so Link headers
// point back at the simulator under whatever host and prefix it was reached.
func requestURL(r *http.Request) *url.URL {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = p
	}
	return &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
}

// intParam reads a positive integer query parameter, falling back to def
// when absent or malformed and clamping to max, as the providers do.
func intParam(q url.Values, name string, def, max int) int {
	n, err := strconv.Atoi(q.Get(name))
	if err != nil || n <= 0 {
		return def
	}
	if max > 0 && n > max {
		return max
	}
	return n
}

// pageSlice returns the items of 1-based page with perPage items per page.
func pageSlice[T any](items []T, page, perPage int) []T {
	start := (page - 1) * perPage
	if start >= len(items) {
		return []T{}
	}
	end := min(start+perPage, len(items))
	return items[start:end]
}

// GitHub paging: `per_page` defaults to 30 and is capped at 100; `page` is 1-based.
const (
	ghDefaultPerPage = 30
	ghMaxPerPage     = 100
)

func ghPageParams(r *http.Request) (page, perPage int) {
	q := r.URL.Query()
	return intParam(q, "page", 1, 0), intParam(q, "per_page", ghDefaultPerPage, ghMaxPerPage)
}

// setGitHubLink writes the RFC 5988 Link header GitHub sends on list
// endpoints: rel="prev"/"next"/"first"/"last" as applicable, none when
// everything fits on one page.
func setGitHubLink(w http.ResponseWriter, r *http.Request, page, perPage, total int) {
	last := max(1, (total+perPage-1)/perPage)
	if last == 1 && page == 1 {
		return
	}
	link := func(p int, rel string) string {
		u := requestURL(r)
		q := u.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		u.RawQuery = q.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	var parts []string
	if page > 1 {
		parts = append(parts, link(min(page-1, last), "prev"))
	}
	if page < last {
		parts = append(parts, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		parts = append(parts, link(1, "first"))
	}
	w.Header().Set("Link", strings.Join(parts, ", "))
}

// Sentry paging: cursors look like "<value>:<offset>:<is_prev>"; the
// simulator uses value 0 and a plain offset, as Sentry's offset paginator does.
const (
	sentryDefaultPerPage = 100
	sentryMaxPerPage     = 100
)

// parseSentryCursor returns the offset in a Sentry cursor ("" is offset 0).
func parseSentryCursor(raw string) (int, error) {
	if raw == "" {
		return 0, nil
	}
	parts := strings.Split(raw, ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("bad cursor %q", raw)
	}
	off, err := strconv.Atoi(parts[1])
	if err != nil || off < 0 {
		return 0, fmt.Errorf("bad cursor %q", raw)
	}
	return off, nil
}

// setSentryLink writes Sentry's Link header. Sentry always sends both
// rel="previous" and rel="next", and says whether following them yields
// anything in results="true|false"; clients must check that, not the
// presence of rel="next".
func setSentryLink(w http.ResponseWriter, r *http.Request, offset, limit int, hasNext bool) {
	base := requestURL(r)
	q := base.Query()
	q.Del("cursor")
	base.RawQuery = ""
	prefix := base.String() + "?" + q.Encode() + "&cursor="
	prevOff := max(0, offset-limit)
	prevCursor := fmt.Sprintf("0:%d:1", prevOff)
	nextCursor := fmt.Sprintf("0:%d:0", offset+limit)
	w.Header().Set("Link", fmt.Sprintf(
		`<%s%s>; rel="previous"; results="%t"; cursor="%s", <%s%s>; rel="next"; results="%t"; cursor="%s"`,
		prefix, prevCursor, offset > 0, prevCursor,
		prefix, nextCursor, hasNext, nextCursor,
	))
}

// vercelPagination is the `pagination` object of Vercel list responses:
// `next` is the timestamp to pass as `until` for the following page (null on
// the last page); `prev` the one to pass as `since` for the previous page.
type vercelPagination struct {
	Count int    `json:"count"`
	Next  *int64 `json:"next"`
	Prev  *int64 `json:"prev"`
}
