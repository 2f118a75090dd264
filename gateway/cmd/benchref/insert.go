package main

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/platform"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/webhook/verify"
)

// insertDelivery is the one statement per request: a plain INSERT of the row, the way a receiver without
// group commit writes it (inline on purpose: it is the reference's SQL, not a query of the service).
const insertDelivery = `INSERT INTO lightfast_gw_webhook_deliveries
	(id, provider, delivery_id, event_type, installation_id, provider_resource_id, status, payload, headers)
	VALUES ($1, $2, $3, $4, NULLIF($5, ''), NULLIF($6, ''), $7, $8, $9::jsonb)
	ON CONFLICT (provider, delivery_id) DO NOTHING`

// streamCap bounds the stream's length (approximately, so trimming stays cheap) so a long run does not
// fill Redis.
const streamCap = 100_000

type insertServer struct {
	github verify.GitHub
	pool   *pgxpool.Pool
	redis  *platform.Redis
	routes *routing.Cache
	stream string
	log    *zap.Logger
}

// newInsert is the insert mode: read, verify, route (Redis GET), INSERT, XADD, answer.
func newInsert(ctx context.Context, env *platform.Env, log *zap.Logger) (http.Handler, func(), error) {
	secret := env.Secret("GITHUB_WEBHOOK_SECRET")
	dbURL := env.Required("DATABASE_URL")
	redisURL := env.Required("REDIS_URL")
	stream := env.String("BENCHREF_STREAM", "benchref:deliveries")
	if err := env.Err(); err != nil {
		return nil, nil, err
	}
	// The gateway's default pool size, unless pool_max_conns says otherwise.
	pool, err := db.Open(ctx, dbURL, db.PoolOptions{AppName: "benchref", MaxConns: 16})
	if err != nil {
		return nil, nil, err
	}
	redis, err := platform.OpenRedis(ctx, redisURL, log)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	s := &insertServer{
		github: verify.GitHub{Secrets: [][]byte{[]byte(secret)}},
		pool:   pool, redis: redis, routes: routing.NewOn(redis, pool, ""), stream: stream, log: log,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/github", s.receive)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := pool.Ping(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux, func() { redis.Close(); pool.Close() }, nil
}

func (s *insertServer) receive(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	req := verify.Request{Header: r.Header, Body: body, Now: time.Now()}
	if err := s.github.Verify(r.Context(), req); err != nil {
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	ev, err := s.github.Parse(req)
	if err != nil {
		http.Error(w, "malformed payload", http.StatusBadRequest)
		return
	}
	// Like the gateway, the write goes ahead if the sender hangs up once the body is in.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
	defer cancel()
	installationID, _, err := s.routes.ResolveInstallation(ctx, types.GitHub, ev.InstallationExternalID)
	if err != nil {
		s.unavailable(w, err)
		return
	}
	status := types.DeliveryReceived
	if installationID == "" {
		status = types.DeliveryUnrouted
	}
	headers, err := ev.Headers.MarshalJSON()
	if err != nil {
		s.unavailable(w, err)
		return
	}
	id := ids.New()
	if _, err := s.pool.Exec(ctx, insertDelivery, id, string(types.GitHub), ev.DeliveryID, ev.EventType, installationID,
		ev.ResourceID, status, body, string(headers)); err != nil {
		s.unavailable(w, err)
		return
	}
	if c := s.redis.Client(); c != nil {
		err = c.Do(ctx, c.B().Xadd().Key(s.stream).Maxlen().Almost().Threshold(strconv.Itoa(streamCap)).Id("*").
			FieldValue().FieldValue("delivery", id).Build()).Error()
	} else {
		err = platform.ErrRedisNotConnected
	}
	if err != nil {
		s.unavailable(w, err)
		return
	}
	answer(w)
}

func (s *insertServer) unavailable(w http.ResponseWriter, err error) {
	s.log.Error("delivery not recorded", zap.Error(err))
	http.Error(w, "unavailable", http.StatusServiceUnavailable)
}
