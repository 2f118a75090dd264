// Package platform is the process plumbing both services share: configuration from the environment,
// logging, the echo server with its middleware and JSON errors, health and metrics endpoints, Redis, and
// graceful shutdown. Nothing here knows about providers or tables.
package platform

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lightfastai/connections/db/secrets"
)

// Env reads configuration variables and collects what is wrong with them, so a service can report the
// first bad variable by name and stop. Use OSEnv in main and MapEnv in tests.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// OSEnv reads the process environment.
func OSEnv() *Env { return &Env{lookup: os.LookupEnv} }

// MapEnv reads from a map.
func MapEnv(m map[string]string) *Env {
	return &Env{lookup: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

func (e *Env) get(name string) (string, bool) {
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (e *Env) fail(name, format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf("%s %s", name, fmt.Sprintf(format, args...)))
}

// String returns the variable or def.
func (e *Env) String(name, def string) string {
	if v, ok := e.get(name); ok {
		return v
	}
	return def
}

// Required returns the variable, recording an error when it is unset.
func (e *Env) Required(name string) string {
	v, ok := e.get(name)
	if !ok {
		e.fail(name, "is required")
	}
	return v
}

// Secret is Required for a value that must never be printed.
func (e *Env) Secret(name string) secrets.Secret { return secrets.Secret(e.Required(name)) }

// OptionalSecret returns the variable as a Secret, empty when unset.
func (e *Env) OptionalSecret(name string) secrets.Secret { return secrets.Secret(e.String(name, "")) }

// Secrets reads a comma-separated list of secrets (several values allow rotation). required says
// whether an empty list is an error.
func (e *Env) Secrets(name string, required bool) []secrets.Secret {
	var out []secrets.Secret
	for _, s := range strings.Split(e.String(name, ""), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, secrets.Secret(s))
		}
	}
	if required && len(out) == 0 {
		e.fail(name, "is required (one or more comma-separated values)")
	}
	return out
}

// Int64 parses an integer, with a lower bound.
func (e *Env) Int64(name string, def, min int64) int64 {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min {
		e.fail(name, "must be an integer ≥ %d, got %q", min, v)
		return def
	}
	return n
}

// Duration parses a Go duration ("30s", "7d" is not valid Go; use "168h").
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.get(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.fail(name, "must be a positive duration such as 30s or 168h, got %q", v)
		return def
	}
	return d
}

// URL parses an absolute http(s) URL without a trailing slash.
func (e *Env) URL(name, def string) string {
	v := e.String(name, def)
	if v == "" {
		e.fail(name, "is required")
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.fail(name, "must be an absolute http(s) URL, got %q", v)
		return v
	}
	return strings.TrimRight(v, "/")
}

// OneOf checks that the variable is one of the allowed values.
func (e *Env) OneOf(name, def string, allowed ...string) string {
	v := e.String(name, def)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	e.fail(name, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
	return def
}

// Check records err against name when it is not nil (for validation a caller does itself).
func (e *Env) Check(name string, err error) {
	if err != nil {
		e.fail(name, "%v", err)
	}
}

// Err returns the first problem found, naming its variable, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return e.errs[0]
}

// Errs returns every problem found.
func (e *Env) Errs() error { return errors.Join(e.errs...) }
