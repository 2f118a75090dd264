package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/secrets"
	dbvault "github.com/lightfastai/connections/db/vault"
)

// runToken serves GET /connections/{id}/token doing per request what the token endpoint cannot avoid
// for a fresh token: the vault's one query (dbq.VaultRead) and the AES-GCM decrypt of the access token
// (db/vault.Decrypt), answered as JSON; no API key check, access log, metrics or cache. Environment:
// DATABASE_URL, ENCRYPTION_KEYS (as the gateway's), ADDR (host:port).
func runToken(ctx context.Context) error {
	keyring, err := secrets.ParseKeyring(os.Getenv("ENCRYPTION_KEYS"))
	if err != nil {
		return fmt.Errorf("ENCRYPTION_KEYS: %w", err)
	}
	// The gateway's default pool size, so both servers may hold as many connections.
	pool, err := db.Open(ctx, os.Getenv("DATABASE_URL"), db.PoolOptions{AppName: "benchref-token", MaxConns: 16})
	if err != nil {
		return err
	}
	defer pool.Close()
	q := dbq.New(pool)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /connections/{id}/token", func(w http.ResponseWriter, r *http.Request) {
		row, err := q.VaultRead(r.Context(), r.PathValue("id"))
		if err != nil {
			http.Error(w, "read", http.StatusInternalServerError)
			return
		}
		tok, err := dbvault.Decrypt(keyring, row)
		if err != nil {
			http.Error(w, "decrypt", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			AccessToken string     `json:"accessToken"`
			Provider    string     `json:"provider"`
			ExpiresAt   *time.Time `json:"expiresAt"`
		}{tok.AccessToken.Reveal(), string(tok.Provider), tok.ExpiresAt})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := pool.Ping(r.Context()); err != nil {
			http.Error(w, "postgres", http.StatusServiceUnavailable)
		}
	})
	ln, err := net.Listen("tcp", os.Getenv("ADDR"))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(stopCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
