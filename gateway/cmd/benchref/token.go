package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/secrets"
	dbvault "github.com/lightfastai/connections/db/vault"
)

// tokenBody is the token endpoint's answer (gateway/internal/vault's tokenResponse).
type tokenBody struct {
	AccessToken string     `json:"accessToken"`
	Provider    string     `json:"provider"`
	ExpiresAt   *time.Time `json:"expiresAt"`
}

// newToken is the token mode: per request the vault's one query and the AES-GCM decrypt of the access
// token, then the JSON answer — what the token endpoint cannot avoid for a fresh token it has not
// cached.
func newToken(ctx context.Context, env *platform.Env) (http.Handler, func(), error) {
	dbURL := env.Required("DATABASE_URL")
	keys := env.Required("ENCRYPTION_KEYS")
	if err := env.Err(); err != nil {
		return nil, nil, err
	}
	keyring, err := secrets.ParseKeyring(keys)
	if err != nil {
		return nil, nil, err
	}
	// The gateway's default pool size, unless pool_max_conns says otherwise.
	pool, err := db.Open(ctx, dbURL, db.PoolOptions{AppName: "benchref", MaxConns: 16})
	if err != nil {
		return nil, nil, err
	}
	q := dbq.New(pool)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /connections/{id}/token", func(w http.ResponseWriter, r *http.Request) {
		row, err := q.VaultRead(r.Context(), r.PathValue("id"))
		if err != nil {
			http.Error(w, "read failed", http.StatusInternalServerError)
			return
		}
		tok, err := dbvault.Decrypt(keyring, row)
		if err != nil {
			http.Error(w, "decrypt failed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(tokenBody{tok.AccessToken.Reveal(), string(tok.Provider), tok.ExpiresAt})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := pool.Ping(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux, pool.Close, nil
}
