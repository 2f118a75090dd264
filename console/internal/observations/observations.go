// Package observations implements ObservationService (SPEC §6.2): a workspace's observations, newest
// first, a page at a time with an opaque keyset cursor on (occurred_at, id), filtered by provider, source
// type and integration. Every call is scoped by the caller's organisation: another organisation's
// workspace is NotFound, exactly like one that does not exist.
package observations

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

// Page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Limits on request fields, matching the column widths.
const (
	maxIDLen         = 191
	maxSourceTypeLen = 128
)

// Service implements consolev1connect.ObservationServiceHandler. It expects auth.UserInterceptor to
// have put the caller's Principal in the context.
type Service struct {
	pool *pgxpool.Pool
}

var _ consolev1connect.ObservationServiceHandler = (*Service)(nil)

// New returns the service.
func New(pool *pgxpool.Pool) *Service { return &Service{pool: pool} }

func invalid(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}

// ListObservations lists a workspace's observations, newest first.
func (s *Service) ListObservations(ctx context.Context, req *connect.Request[consolev1.ListObservationsRequest]) (*connect.Response[consolev1.ListObservationsResponse], error) {
	p, ok := auth.PrincipalFrom(ctx)
	if !ok {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("unauthenticated"))
	}
	if p.OrgID == "" {
		return nil, connect.NewError(connect.CodePermissionDenied,
			errors.New("no active organization: the session token has no org_id (or o.id); select an organization and retry"))
	}
	m := req.Msg
	params, err := listParams(m)
	if err != nil {
		return nil, err
	}
	q := dbq.New(s.pool)
	if _, err := q.GetWorkspaceForOrg(ctx, dbq.GetWorkspaceForOrgParams{ID: m.GetWorkspaceId(), ClerkOrgID: p.OrgID}); err != nil {
		if db.IsNotFound(err) {
			return nil, connect.NewError(connect.CodeNotFound, errors.New("workspace not found"))
		}
		return nil, fmt.Errorf("list observations: workspace: %w", err)
	}
	pageSize := int(params.Lim)
	params.Lim++ // one more than asked tells whether there is a next page
	rows, err := q.ListObservations(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list observations: %w", err)
	}
	resp := &consolev1.ListObservationsResponse{Observations: make([]*consolev1.Observation, 0, min(len(rows), pageSize))}
	for i, r := range rows {
		if i == pageSize {
			last := rows[i-1]
			resp.NextCursor = encodeCursor(last.OccurredAt, last.ID)
			break
		}
		resp.Observations = append(resp.Observations, toProto(r))
	}
	return connect.NewResponse(resp), nil
}

// listParams validates the request and turns it into query parameters (Lim = the page size).
func listParams(m *consolev1.ListObservationsRequest) (dbq.ListObservationsParams, error) {
	var out dbq.ListObservationsParams
	if m.GetWorkspaceId() == "" || len(m.GetWorkspaceId()) > maxIDLen {
		return out, invalid("workspace_id is required")
	}
	out.WorkspaceID = m.GetWorkspaceId()
	switch size := m.GetPageSize(); {
	case size < 0:
		return out, invalid("page_size must not be negative")
	case size == 0:
		out.Lim = DefaultPageSize
	default:
		out.Lim = min(size, MaxPageSize)
	}
	if m.GetProvider() != consolev1.Provider_PROVIDER_UNSPECIFIED {
		p, ok := providers[m.GetProvider()]
		if !ok {
			return out, invalid("unknown provider %d", m.GetProvider())
		}
		ps := string(p)
		out.Provider = &ps
	}
	if st := m.GetSourceType(); st != "" {
		if len(st) > maxSourceTypeLen {
			return out, invalid("source_type is at most %d characters", maxSourceTypeLen)
		}
		out.SourceType = &st
	}
	if id := m.GetIntegrationId(); id != "" {
		if len(id) > maxIDLen {
			return out, invalid("integration_id is at most %d characters", maxIDLen)
		}
		out.IntegrationID = &id
	}
	if c := m.GetCursor(); c != "" {
		at, id, err := decodeCursor(c)
		if err != nil {
			return out, invalid("invalid cursor: pass next_cursor from the previous page unchanged")
		}
		out.BeforeOccurredAt, out.BeforeID = &at, &id
	}
	return out, nil
}

var providers = map[consolev1.Provider]types.Provider{
	consolev1.Provider_PROVIDER_GITHUB: types.GitHub,
	consolev1.Provider_PROVIDER_VERCEL: types.Vercel,
	consolev1.Provider_PROVIDER_LINEAR: types.Linear,
	consolev1.Provider_PROVIDER_SENTRY: types.Sentry,
}

var protoProviders = func() map[types.Provider]consolev1.Provider {
	m := make(map[types.Provider]consolev1.Provider, len(providers))
	for k, v := range providers {
		m[v] = k
	}
	return m
}()

// The cursor is "o1:<occurred_at in Unix microseconds>:<id>", base64url-encoded: Postgres keeps
// microseconds, so the position round-trips exactly. Callers must treat it as opaque.
const cursorVersion = "o1"

func encodeCursor(at time.Time, id string) string {
	raw := cursorVersion + ":" + strconv.FormatInt(at.UnixMicro(), 10) + ":" + id
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", err
	}
	parts := strings.SplitN(string(raw), ":", 3)
	if len(parts) != 3 || parts[0] != cursorVersion || parts[2] == "" || len(parts[2]) > maxIDLen {
		return time.Time{}, "", errors.New("malformed cursor")
	}
	micros, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return time.Time{}, "", err
	}
	return time.UnixMicro(micros).UTC(), parts[2], nil
}

func toProto(r dbq.Observation) *consolev1.Observation {
	o := &consolev1.Observation{
		Id:          r.ID,
		WorkspaceId: r.WorkspaceID,
		Provider:    protoProviders[r.Provider],
		SourceType:  r.SourceType,
		SourceId:    r.SourceID,
		Title:       r.Title,
		OccurredAt:  timestamppb.New(r.OccurredAt),
		CreatedAt:   timestamppb.New(r.CreatedAt),
	}
	if r.IntegrationID != nil {
		o.IntegrationId = *r.IntegrationID
	}
	if r.Body != nil {
		o.Body = *r.Body
	}
	if r.Url != nil {
		o.Url = *r.Url
	}
	if a := r.Actor; a != nil {
		name := a.Login
		if name == "" {
			name = a.Name
		}
		o.Actor = &consolev1.Actor{Id: a.ID, Name: name, AvatarUrl: a.AvatarURL, Email: a.Email}
	}
	return o
}
