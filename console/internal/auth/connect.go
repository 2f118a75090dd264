package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"

	"connectrpc.com/connect"

	"github.com/lightfastai/connections/db/secrets"
)

// UserInterceptor authenticates every call with a session token (Authorization: Bearer or the __session
// cookie) and puts the Principal in the context. A missing or rejected token is Unauthenticated.
func UserInterceptor(v *Verifier) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			p, err := v.Verify(ctx, TokenFromRequest(req.Header()))
			if err != nil {
				return nil, connect.NewError(connect.CodeUnauthenticated, err)
			}
			return next(WithPrincipal(ctx, p), req)
		}
	})
}

// M2MKeys are the machine-to-machine API keys (M2M_API_KEYS; several, for rotation).
type M2MKeys struct{ digests [][sha256.Size]byte }

// NewM2MKeys holds keys as digests, so comparisons take the same time whatever the key lengths.
func NewM2MKeys(keys []string) M2MKeys {
	var k M2MKeys
	for _, key := range keys {
		if key != "" {
			k.digests = append(k.digests, sha256.Sum256([]byte(key)))
		}
	}
	return k
}

// M2MKeysFromSecrets is NewM2MKeys for keys read from the configuration (M2M_API_KEYS).
func M2MKeysFromSecrets(keys []secrets.Secret) M2MKeys {
	plain := make([]string, 0, len(keys))
	for _, k := range keys {
		plain = append(plain, k.Reveal())
	}
	return NewM2MKeys(plain)
}

// Valid reports whether presented is one of the keys. It compares against every key without stopping
// early, in constant time per key.
func (k M2MKeys) Valid(presented string) bool {
	if presented == "" {
		return false
	}
	d := sha256.Sum256([]byte(presented))
	match := 0
	for _, want := range k.digests {
		match |= subtle.ConstantTimeCompare(d[:], want[:])
	}
	return match == 1
}

// M2MInterceptor admits calls whose Authorization bearer is an M2M key; anything else is Unauthenticated.
func M2MInterceptor(keys M2MKeys) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if !keys.Valid(BearerToken(req.Header())) {
				return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("a valid M2M API key is required"))
			}
			return next(ctx, req)
		}
	})
}
