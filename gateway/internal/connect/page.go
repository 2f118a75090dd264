package connect

import (
	"html/template"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/types"
)

// refusalPage is what a browser sees when the gateway refuses a connect step itself (a bad state, a
// callback this browser did not start, a spoofed installation): the code, what to do, and a link back to
// the Console's /connected page, which reports the code to the window that opened the popup. It is a link,
// not a redirect, so a forged callback can never drive the browser anywhere.
var refusalPage = template.Must(template.New("refusal").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>Connection refused</title></head>
<body><main>
<h1>Connection refused</h1>
<p id="message">{{.Message}}</p>
<p>Code: <code id="code">{{.Code}}</code></p>
<p><a id="back" href="{{.Back}}">Back to Lightfast</a></p>
</main></body></html>
`))

// pageCSP allows nothing but the page's own markup: no script, style or resource of any origin.
const pageCSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// page answers a refused connect step: an HTML page for a browser, the platform's JSON error otherwise
// (API clients and tests). The status and code are the same either way, and nothing was written.
func (s *Service) page(c echo.Context, p types.Provider, e *pageError) error {
	if !strings.Contains(c.Request().Header.Get("Accept"), "text/html") {
		return platform.Errorf(e.status, e.code, "%s", e.message)
	}
	back := s.opts.ConsoleURL + "/connected?" + url.Values{"provider": {string(p)}, "error": {e.code}}.Encode()
	var b strings.Builder
	if err := refusalPage.Execute(&b, struct{ Code, Message, Back string }{e.code, e.message, back}); err != nil {
		return platform.Errorf(e.status, e.code, "%s", e.message)
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	return c.HTML(e.status, b.String())
}
