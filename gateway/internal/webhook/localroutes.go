package webhook

import (
	"sync"
	"time"
)

// localRoutes is a tiny in-process cache in front of the Redis routing cache. At thousands of deliveries
// a second for the same few installations, a Redis round trip per delivery costs more CPU (here and in
// Redis) than everything else on the ingest path but the commit. Entries live for a second, and only
// found routes are kept, so a new installation is routed at once and a removed one stops being routed
// within a second — after which the console finds no active integration for its deliveries anyway.
// Lifecycle events never use it.
type localRoutes struct {
	ttl time.Duration
	mu  sync.RWMutex
	m   map[string]localRoute
}

type localRoute struct {
	installationID string
	expires        int64 // unix nanos
}

// localRoutesMax bounds memory; past it the cache starts over (routes are cheap to find again).
const localRoutesMax = 100_000

func newLocalRoutes(ttl time.Duration) *localRoutes {
	return &localRoutes{ttl: ttl, m: map[string]localRoute{}}
}

func (l *localRoutes) get(key string, now time.Time) (string, bool) {
	if l.ttl <= 0 {
		return "", false
	}
	l.mu.RLock()
	r, ok := l.m[key]
	l.mu.RUnlock()
	if !ok || now.UnixNano() >= r.expires {
		return "", false
	}
	return r.installationID, true
}

func (l *localRoutes) put(key, installationID string, now time.Time) {
	if l.ttl <= 0 || installationID == "" {
		return
	}
	l.mu.Lock()
	if len(l.m) >= localRoutesMax {
		clear(l.m)
	}
	l.m[key] = localRoute{installationID: installationID, expires: now.Add(l.ttl).UnixNano()}
	l.mu.Unlock()
}

func (l *localRoutes) drop(key string) {
	if l.ttl <= 0 {
		return
	}
	l.mu.Lock()
	delete(l.m, key)
	l.mu.Unlock()
}
