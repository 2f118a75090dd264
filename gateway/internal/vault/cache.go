package vault

import (
	"sync"
	"time"
)

// cacheFloor: a token is served from the cache only while it has more than this left. Refreshes happen
// only below RefreshAheadWindow (the periodic job) or the much smaller endpoint margins, so a cached
// token is never one that any replica may be replacing — a provider that revokes the old access token on
// refresh (Sentry) cannot make a cached answer stale.
const cacheFloor = RefreshAheadWindow + time.Minute

// maxCacheEntries bounds the cache; past it, expired entries are swept, and if that is not enough the
// cache starts over.
const maxCacheEntries = 100_000

// tokenCache remembers recently read, decrypted tokens for a short time, so a hot installation costs
// one database read per TTL instead of one per request. It is an optimisation only: an entry is dropped
// when this process refreshes or revokes the token, and another replica's revocation is seen within the
// TTL (the token was revoked at the provider too, so it stops working there first).
type tokenCache struct {
	ttl     time.Duration
	mu      sync.RWMutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	result   Result
	storedAt time.Time
}

func newTokenCache(ttl time.Duration) *tokenCache {
	return &tokenCache{ttl: ttl, entries: map[string]cacheEntry{}}
}

// get returns the cached token of installationID if it is young enough and far from expiry.
func (c *tokenCache) get(installationID string, now time.Time) (Result, bool) {
	if c.ttl <= 0 {
		return Result{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[installationID]
	c.mu.RUnlock()
	if !ok || now.Sub(e.storedAt) >= c.ttl || !servable(e.result, now) {
		return Result{}, false
	}
	return e.result, true
}

// put remembers r, when it is a token the cache may serve.
func (c *tokenCache) put(installationID string, r Result, now time.Time) {
	if c.ttl <= 0 || !servable(r, now) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCacheEntries {
		for id, e := range c.entries {
			if now.Sub(e.storedAt) >= c.ttl {
				delete(c.entries, id)
			}
		}
		if len(c.entries) >= maxCacheEntries {
			c.entries = map[string]cacheEntry{}
		}
	}
	c.entries[installationID] = cacheEntry{result: r, storedAt: now}
}

// forget drops installationID.
func (c *tokenCache) forget(installationID string) {
	c.mu.Lock()
	delete(c.entries, installationID)
	c.mu.Unlock()
}

func servable(r Result, now time.Time) bool {
	return r.ExpiresAt == nil || r.ExpiresAt.Sub(now) > cacheFloor
}
