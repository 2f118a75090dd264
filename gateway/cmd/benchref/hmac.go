package main

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/gateway/internal/webhook/verify"
)

// maxBody caps a request body like the gateway's default WEBHOOK_MAX_BODY_BYTES.
const maxBody = 26 << 20

// accepted is the answer to a verified delivery, the same size as the gateway's.
var accepted = []byte(`{"status":"accepted","id":"0123456789abcdefghijk"}`)

type hmacServer struct {
	github verify.GitHub
}

// newHMAC is the hmac mode: read, verify, answer.
func newHMAC(env *platform.Env) (http.Handler, error) {
	secret := env.Secret("GITHUB_WEBHOOK_SECRET")
	if err := env.Err(); err != nil {
		return nil, err
	}
	s := &hmacServer{github: verify.GitHub{Secrets: [][]byte{[]byte(secret)}}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/github", s.receive)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return mux, nil
}

func (s *hmacServer) receive(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if err := s.github.Verify(r.Context(), verify.Request{Header: r.Header, Body: body, Now: time.Now()}); err != nil {
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	answer(w)
}

// readBody reads the whole body into one buffer of the declared length (one allocation, as a careful
// handler would; io.ReadAll would grow and copy its way there), or up to maxBody when none is declared.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > maxBody {
		return nil, errors.New("body too large")
	}
	src := http.MaxBytesReader(w, r.Body, maxBody)
	if r.ContentLength < 0 {
		return io.ReadAll(src)
	}
	body := make([]byte, r.ContentLength)
	_, err := io.ReadFull(src, body)
	return body, err
}

func answer(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(accepted)
}
