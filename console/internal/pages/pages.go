// Package pages serves the Console's browser pages (SPEC §6.4): sign-in, the workspace list, a workspace's
// sources and /connected, where the connect popup ends. Pages are rendered on the server with html/template
// from the Connect service implementations, called in-process with the caller's principal, so org scoping
// and every rule stay in the API. A little vanilla JavaScript (static/pages.js, no build step) performs the
// actions by calling the same procedures over Connect's JSON protocol with the session cookie.
package pages

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Services are the Console API the pages read through: Connect clients of the API's own handlers, called
// in-process (see NewServices) with the caller's session token, so authentication, org scoping and error
// mapping are exactly what the browser gets when it calls the same procedures.
type Services struct {
	Workspaces   consolev1connect.WorkspaceServiceClient
	Connections  consolev1connect.ConnectionServiceClient
	Integrations consolev1connect.IntegrationServiceClient
	Observations consolev1connect.ObservationServiceClient
	GitHub       consolev1connect.GitHubServiceClient
	Vercel       consolev1connect.VercelServiceClient
	Linear       consolev1connect.LinearServiceClient
	Sentry       consolev1connect.SentryServiceClient
	Jobs         consolev1connect.JobServiceClient
}

func (s Services) validate() error {
	if s.Workspaces == nil || s.Connections == nil || s.Integrations == nil || s.Observations == nil ||
		s.GitHub == nil || s.Vercel == nil || s.Linear == nil || s.Sentry == nil || s.Jobs == nil {
		return errors.New("pages: every service is required")
	}
	return nil
}

// Config configures the pages.
type Config struct {
	// PublicURL is CONSOLE_PUBLIC_URL. Its origin is the only targetOrigin /connected posts to and the only
	// origin the sources page accepts messages from.
	PublicURL string
	// DevTokens says development session tokens are accepted (AUTH_DEV_SECRET set outside production), so
	// the sign-in page explains how to make one.
	DevTokens bool
	// Logger records failures of the services behind a page (never tokens or query strings).
	Logger *zap.Logger
}

// Pages is the set of browser pages.
type Pages struct {
	origin    string
	devTokens bool
	verifier  *auth.Verifier
	svc       Services
	log       *zap.Logger
	tmpl      map[string]*template.Template
	static    http.Handler
}

// New returns the pages. verifier checks the __session cookie.
func New(cfg Config, verifier *auth.Verifier, svc Services) (*Pages, error) {
	origin, err := Origin(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	if verifier == nil {
		return nil, errors.New("pages: a verifier is required")
	}
	if err := svc.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	return &Pages{
		origin: origin, devTokens: cfg.DevTokens, verifier: verifier, svc: svc, log: log, tmpl: tmpl,
		static: http.StripPrefix("/static/", http.FileServer(http.FS(sub))),
	}, nil
}

// Origin returns the origin (scheme://host[:port]) of an absolute http(s) URL, as browsers spell it in
// event.origin and the Origin header.
func Origin(publicURL string) (string, error) {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("pages: public URL %q is not an absolute http(s) URL", publicURL)
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6 literal
	}
	// Browsers leave the scheme's default port out of an origin.
	defaultPort := map[string]string{"http": "80", "https": "443"}[scheme]
	if port := u.Port(); port != "" && port != defaultPort {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// Mount registers the pages and their static files on e.
func (p *Pages) Mount(e *echo.Echo) {
	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusFound, "/workspaces") })
	e.GET("/sign-in", p.signIn)
	e.GET("/connected", p.connected)
	e.GET("/workspaces", p.workspaces)
	e.GET("/workspaces/:id/sources", p.sources)
	e.GET("/static/*", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-cache")
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")
		p.static.ServeHTTP(c.Response(), c.Request())
		return nil
	})
}

// page is what every template gets: the page name (it selects the script's behaviour), the console origin
// and the page's own data.
type page struct {
	Name   string
	Title  string
	Origin string
	User   *auth.Principal
	// Notice is a confirmation shown in the status line, one of the fixed notices (never request text).
	Notice string
	Data   any
}

// contentSecurityPolicy allows only the console's own scripts, styles and fetches: no inline script, so
// even a template mistake could not run injected markup.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (p *Pages) render(c echo.Context, status int, name string, pg page) error {
	t, ok := p.tmpl[name]
	if !ok {
		return fmt.Errorf("pages: no template %q", name)
	}
	pg.Name, pg.Origin = name, p.origin
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", pg); err != nil {
		return fmt.Errorf("pages: render %s: %w", name, err)
	}
	h := c.Response().Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	// /connected carries the installation id in its URL; nothing of a page's URL leaves through Referer.
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	return c.HTML(status, b.String())
}

func parseTemplates() (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("pages: parse layout: %w", err)
	}
	out := map[string]*template.Template{}
	for _, name := range []string{"sign-in", "connected", "workspaces", "sources", "error"} {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("pages: parse %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}
