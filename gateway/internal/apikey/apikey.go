// Package apikey guards machine endpoints with a shared key in a request header (X-API-Key for the
// token vault and teardown, X-Admin-Key for admin). Several keys are accepted so they can rotate.
package apikey

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/secrets"
)

// Keys is a set of accepted keys.
type Keys struct {
	digests [][sha256.Size]byte
}

// New accepts any of keys. Empty keys are ignored, so an unset list accepts nothing.
func New(keys []secrets.Secret) Keys {
	var k Keys
	for _, key := range keys {
		if key != "" {
			k.digests = append(k.digests, sha256.Sum256([]byte(key.Reveal())))
		}
	}
	return k
}

// Valid reports whether presented is one of the keys. Comparing fixed-size digests in constant time,
// and always against every key, keeps the time independent of which key matched and of its length.
func (k Keys) Valid(presented string) bool {
	if presented == "" {
		return false
	}
	d := sha256.Sum256([]byte(presented))
	ok := 0
	for i := range k.digests {
		ok |= subtle.ConstantTimeCompare(d[:], k.digests[i][:])
	}
	return ok == 1
}

// Middleware answers 401 {"error":{"code":"unauthorized"}} unless header carries one of the keys.
func (k Keys) Middleware(header string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !k.Valid(c.Request().Header.Get(header)) {
				return platform.Errorf(http.StatusUnauthorized, "unauthorized", "missing or invalid %s", header)
			}
			return next(c)
		}
	}
}
