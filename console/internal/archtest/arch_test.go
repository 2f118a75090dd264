// Package archtest holds the Console's architecture rules (SPEC §1): the Console does not import the
// Gateway module and does not call the Gateway over HTTP. Both services share the db module instead;
// GATEWAY_PUBLIC_URL exists in the Console only to build the authorize link handed to the browser.
package archtest

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	consoleModule = "github.com/lightfastai/connections/console"
	gatewayModule = "github.com/lightfastai/connections/gateway"
)

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = moduleDir(t)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Fatalf("go list %v: %v\n%s", args, err, ee.Stderr)
	}
	require.NoError(t, err)
	return strings.Fields(string(out))
}

func moduleDir(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		require.NotEqual(t, dir, filepath.Dir(dir), "no go.mod above %s", wd)
	}
}

// TestConsoleDoesNotImportGateway checks every package of the module, tests included, in workspace mode
// (where an import of the gateway module would otherwise resolve).
func TestConsoleDoesNotImportGateway(t *testing.T) {
	t.Parallel()
	deps := goList(t, "-deps", "-test", "-f", "{{.ImportPath}}", "./...")
	require.NotEmpty(t, deps)
	for _, d := range deps {
		require.False(t, strings.HasPrefix(d, gatewayModule), "the console depends on %s: share code through the db module instead", d)
	}
	mod, err := os.ReadFile(filepath.Join(moduleDir(t), "go.mod"))
	require.NoError(t, err)
	require.NotContains(t, string(mod), gatewayModule, "console/go.mod must not require the gateway module")
}

// productionFiles returns the Go files of the console binary: the non-test files of every console
// package cmd/console depends on. (Tests and the demo driver act as browsers and may open gateway URLs.)
func productionFiles(t *testing.T) []string {
	t.Helper()
	lines := goList(t, "-deps", "-f", `{{if .Module}}{{if eq .Module.Path "`+consoleModule+`"}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}} {{end}}{{end}}{{end}}`, "./cmd/console")
	require.NotEmpty(t, lines)
	return lines
}

// Where GATEWAY_PUBLIC_URL may appear: its definition, its wiring, and the one place that builds the
// authorize link.
var gatewayURLAllowed = map[string]bool{
	"internal/config/config.go":  true,
	"cmd/console/main.go":        true,
	"internal/api/api.go":        true, // the Deps field
	"internal/api/connection.go": true, // GetAuthorizeURL
}

// violation describes a rule broken at a position.
type violation struct {
	pos  token.Position
	rule string
}

// gatewayEndpoints are paths and headers only the Gateway serves or reads; the Console has no business
// sending them anywhere.
var gatewayEndpoints = []string{"/token", "/webhooks/", "/admin/", "X-API-Key", "X-Admin-Key", "GATEWAY_API_KEYS", "GATEWAY_ADMIN_KEYS"}

// httpCalls are the net/http entry points that send a request.
var httpCalls = map[string]bool{"Get": true, "Post": true, "PostForm": true, "Head": true, "NewRequest": true, "NewRequestWithContext": true}

// check parses one file and reports uses of the gateway URL outside the allowed files, gateway-only
// endpoints in string literals, and any function that both mentions the gateway URL and sends a request.
func check(fset *token.FileSet, path, rel string, src any) ([]violation, error) {
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		return nil, err
	}
	var out []violation
	mentionsGatewayURL := func(n ast.Node) bool {
		found := false
		ast.Inspect(n, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.Ident:
				found = found || x.Name == "GatewayPublicURL"
			case *ast.BasicLit:
				found = found || (x.Kind == token.STRING && strings.Contains(x.Value, "GATEWAY_PUBLIC_URL"))
			}
			return !found
		})
		return found
	}
	sendsRequest := func(n ast.Node) bool {
		found := false
		ast.Inspect(n, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "http" && httpCalls[sel.Sel.Name] {
					found = true
				}
				if sel.Sel.Name == "Do" || sel.Sel.Name == "RoundTrip" {
					found = true
				}
			}
			return !found
		})
		return found
	}
	if mentionsGatewayURL(f) && !gatewayURLAllowed[rel] {
		out = append(out, violation{fset.Position(f.Package), "uses GATEWAY_PUBLIC_URL"})
	}
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Body != nil && mentionsGatewayURL(fn) && sendsRequest(fn) {
			out = append(out, violation{fset.Position(fn.Pos()), "sends an HTTP request in a function that uses the gateway URL"})
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		for _, ep := range gatewayEndpoints {
			if strings.Contains(s, ep) && !allowedLiteral(rel, s) {
				out = append(out, violation{fset.Position(lit.Pos()), "mentions gateway endpoint " + strconv.Quote(ep)})
			}
		}
		return true
	})
	return out, nil
}

// allowedLiteral lists string literals that contain a gateway-endpoint word for another reason.
func allowedLiteral(rel, s string) bool {
	// The provider APIs have paths of their own that contain these words.
	if strings.HasPrefix(rel, "internal/providerapi/") {
		return true
	}
	// GitHub's "POST /app/installations/{id}/access_tokens" style paths are not gateway endpoints; neither
	// are Prometheus or health paths.
	return strings.Contains(s, "access_tokens") || s == "/metrics"
}

func TestConsoleDoesNotCallGatewayOverHTTP(t *testing.T) {
	t.Parallel()
	dir := moduleDir(t)
	fset := token.NewFileSet()
	files := productionFiles(t)
	var all []violation
	for _, path := range files {
		rel, err := filepath.Rel(dir, path)
		require.NoError(t, err)
		v, err := check(fset, path, filepath.ToSlash(rel), nil)
		require.NoError(t, err)
		all = append(all, v...)
	}
	for _, v := range all {
		t.Errorf("%s: %s", v.pos, v.rule)
	}
	// The rule must actually see the code it guards.
	var sawAuthorize bool
	for _, f := range files {
		sawAuthorize = sawAuthorize || strings.HasSuffix(f, "internal/api/connection.go")
	}
	require.True(t, sawAuthorize, "the console binary's files were not all scanned")
}

// TestCheckCatchesViolations proves the checker flags what it should, so a silent checker cannot pass.
func TestCheckCatchesViolations(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"token client": `package x
import "net/http"
func token(cfg struct{ GatewayPublicURL string }) { http.Get(cfg.GatewayPublicURL + "/connections/1/token") }`,
		"env read": `package x
import "os"
var u = os.Getenv("GATEWAY_PUBLIC_URL")`,
		"api key header": `package x
func h(m map[string]string) { m["X-API-Key"] = "k" }`,
		"client do": `package x
import "net/http"
func call(c *http.Client, s struct{ GatewayPublicURL string }) {
	req, _ := http.NewRequest("GET", s.GatewayPublicURL, nil)
	c.Do(req)
}`,
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := check(token.NewFileSet(), "x.go", "internal/x/x.go", src)
			require.NoError(t, err)
			require.NotEmpty(t, v)
		})
	}
	// Building the link in the allowed file is fine.
	v, err := check(token.NewFileSet(), "connection.go", "internal/api/connection.go", `package api
func link(s struct{ GatewayPublicURL string }, p, tok string) string {
	return s.GatewayPublicURL + "/connections/" + p + "/authorize?state=" + tok
}`)
	require.NoError(t, err)
	require.Empty(t, v)
}
