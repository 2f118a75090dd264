package auth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// jwksCache holds the issuer's RSA keys by kid. Keys are fetched on first use, again when they are older
// than maxAge, and again when a token names a kid the cache does not know (key rotation), but not more
// often than minRefetch.
type jwksCache struct {
	url        string
	client     *http.Client
	minRefetch time.Duration
	maxAge     time.Duration
	now        func() time.Time

	fetchMu   sync.Mutex // one fetch at a time; readers keep using the old keys meanwhile
	mu        sync.RWMutex
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time
}

func newJWKSCache(url string, client *http.Client, minRefetch, maxAge time.Duration, now func() time.Time) *jwksCache {
	return &jwksCache{url: url, client: client, minRefetch: minRefetch, maxAge: maxAge, now: now}
}

// keyError says why no key could verify a token: a kid the issuer does not publish, a JWKS that could
// not be fetched, or an algorithm that is switched off.
type keyError struct{ msg string }

func (e *keyError) Error() string { return e.msg }

func (c *jwksCache) lookup(kid string) (*rsa.PublicKey, time.Time) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.keys[kid], c.fetchedAt
}

// key returns the public key for kid, refetching the JWKS when needed.
func (c *jwksCache) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if k, at := c.lookup(kid); k != nil && c.now().Sub(at) < c.maxAge {
		return k, nil
	}
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	// Another caller may have refreshed while we waited for the lock.
	k, at := c.lookup(kid)
	stale := at.IsZero() || c.now().Sub(at) >= c.maxAge
	if k != nil && !stale {
		return k, nil
	}
	if stale || c.now().Sub(at) >= c.minRefetch {
		if err := c.fetch(ctx); err != nil {
			if k != nil {
				// The issuer is unreachable but the key was valid recently: keep serving it.
				return k, nil
			}
			return nil, &keyError{msg: "signing keys unavailable"}
		}
		k, _ = c.lookup(kid)
	}
	if k == nil {
		return nil, &keyError{msg: "unknown signing key"}
	}
	return k, nil
}

type jwkSet struct {
	Keys []struct {
		Kty string `json:"kty"`
		Kid string `json:"kid"`
		Use string `json:"use"`
		Alg string `json:"alg"`
		N   string `json:"n"`
		E   string `json:"e"`
	} `json:"keys"`
}

func (c *jwksCache) fetch(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return fmt.Errorf("fetch jwks: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("fetch jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch jwks: status %d", resp.StatusCode)
	}
	var set jwkSet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return fmt.Errorf("fetch jwks: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		pub, err := rsaKey(k.N, k.E)
		if err != nil {
			continue // one bad key must not hide the good ones
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return errors.New("fetch jwks: no usable RS256 keys")
	}
	c.mu.Lock()
	c.keys, c.fetchedAt = keys, c.now()
	c.mu.Unlock()
	return nil
}

func rsaKey(n64, e64 string) (*rsa.PublicKey, error) {
	nb, err := base64.RawURLEncoding.DecodeString(n64)
	if err != nil {
		return nil, err
	}
	eb, err := base64.RawURLEncoding.DecodeString(e64)
	if err != nil {
		return nil, err
	}
	e := new(big.Int).SetBytes(eb)
	if !e.IsInt64() || e.Int64() < 3 || len(nb) < 256 {
		return nil, errors.New("weak or malformed rsa key")
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(e.Int64())}, nil
}

// JWK returns the JSON Web Key of pub with kid (for tests and local issuers).
func JWK(kid string, pub *rsa.PublicKey) map[string]string {
	return map[string]string{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}
