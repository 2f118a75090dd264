// Package api implements the Console API (SPEC §6.2): the Connect services generated from
// proto/lightfast/console/v1, mounted on echo. One file per service; errors.go maps errors to Connect
// codes; convert.go turns rows into messages. Every user procedure is scoped by the caller's organisation;
// SourceService is machine-to-machine (M2M API key) and not org-scoped.
//
// The Console never calls the Gateway: tokens come from db/vault (one query and a decrypt), connect states
// from db/oauthstate, the disconnect transaction from db/teardown, and routes go straight into db/routing.
package api

import (
	"context"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/console/internal/providerapi"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/integrations"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/db/vault"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

// Deps are what the services need.
type Deps struct {
	Pool      *pgxpool.Pool
	Routes    *routing.Cache
	Keyring   *secrets.Keyring
	Providers *providerapi.Clients
	// River inserts backfill jobs when a link asks for one (an insert-only client is enough).
	River *river.Client[pgx.Tx]
	// GatewayPublicURL is the base of the authorize URLs handed to browsers.
	GatewayPublicURL string
	Verifier         *auth.Verifier
	M2MKeys          auth.M2MKeys
	Log              *zap.Logger
	// Backfill overrides the BackfillService of backfill.go (nil: that one). Observations implements
	// ObservationService (its own package); nil mounts Connect's
	// Unimplemented handler.
	Backfill     consolev1connect.BackfillServiceHandler
	Observations consolev1connect.ObservationServiceHandler
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// server holds the dependencies every service handler shares.
type server struct{ Deps }

// maxRequestBytes bounds a request message; the largest legitimate one is a bulk link of 100 resources.
const maxRequestBytes = 1 << 20

// Route is a Connect service mounted at Path (a prefix ending in "/").
type Route struct {
	Path    string
	Handler http.Handler
}

// Routes builds every Console API service with its interceptors: user services authenticate a session and
// SourceService an M2M key; all of them map errors through errors.go.
func Routes(d Deps) []Route {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = zap.NewNop()
	}
	s := &server{d}
	user := []connect.HandlerOption{
		connect.WithInterceptors(errorInterceptor(d.Log), auth.UserInterceptor(d.Verifier)),
		connect.WithReadMaxBytes(maxRequestBytes),
	}
	m2m := []connect.HandlerOption{
		connect.WithInterceptors(errorInterceptor(d.Log), auth.M2MInterceptor(d.M2MKeys)),
		connect.WithReadMaxBytes(maxRequestBytes),
	}
	var backfill consolev1connect.BackfillServiceHandler = backfillService{s}
	if d.Backfill != nil {
		backfill = d.Backfill
	}
	var observations consolev1connect.ObservationServiceHandler = consolev1connect.UnimplementedObservationServiceHandler{}
	if d.Observations != nil {
		observations = d.Observations
	}
	var routes []Route
	add := func(path string, h http.Handler) { routes = append(routes, Route{Path: path, Handler: h}) }
	add(consolev1connect.NewWorkspaceServiceHandler(workspaceService{s}, user...))
	add(consolev1connect.NewConnectionServiceHandler(connectionService{s}, user...))
	add(consolev1connect.NewGitHubServiceHandler(githubService{s}, user...))
	add(consolev1connect.NewVercelServiceHandler(vercelService{s}, user...))
	add(consolev1connect.NewLinearServiceHandler(linearService{s}, user...))
	add(consolev1connect.NewSentryServiceHandler(sentryService{s}, user...))
	add(consolev1connect.NewIntegrationServiceHandler(integrationService{s}, user...))
	add(consolev1connect.NewBackfillServiceHandler(backfill, user...))
	add(consolev1connect.NewJobServiceHandler(jobService{s}, user...))
	add(consolev1connect.NewObservationServiceHandler(observations, user...))
	add(consolev1connect.NewSourceServiceHandler(sourceService{s}, m2m...))
	return routes
}

// Mount registers Routes on e. Connect procedures are POST /<package>.<Service>/<Method>.
func Mount(e *echo.Echo, d Deps) { MountRoutes(e, Routes(d)) }

// MountRoutes mounts routes built by Routes, for a caller that serves them elsewhere too (the pages
// read through the same handlers): building them costs about 2 ms of start-up CPU each time.
func MountRoutes(e *echo.Echo, routes []Route) {
	for _, r := range routes {
		e.Any(r.Path+"*", echo.WrapHandler(r.Handler))
	}
}

func (s *server) q() *dbq.Queries { return dbq.New(s.Pool) }

// unreadable reports integrations a listing had to leave out because their rows could not be read: each
// is logged with its id, and returned for the response's unreadable list.
func (s *server) unreadable(rows []integrations.Unreadable) []*consolev1.UnreadableIntegration {
	for _, u := range rows {
		s.Log.Warn("integration unreadable: listed apart", zap.String("integration_id", u.ID),
			zap.String("workspace_id", u.WorkspaceID), zap.String("provider", string(u.Provider)), zap.Error(u.Err))
	}
	return unreadableMsg(rows)
}

// workspaceForOrg returns the org's workspace id; another org's is NotFound.
func (s *server) workspaceForOrg(ctx context.Context, org, id string) (dbq.Workspace, error) {
	if id == "" {
		return dbq.Workspace{}, errInvalid("workspace_id is required")
	}
	w, err := s.q().GetWorkspaceForOrg(ctx, dbq.GetWorkspaceForOrgParams{ID: id, ClerkOrgID: org})
	if db.IsNotFound(err) {
		return dbq.Workspace{}, errNotFound("workspace")
	}
	return w, err
}

// installationForOrg returns the org's installation id (any status but pending); another org's is
// NotFound, and so is a pending one (only ConfirmConnection, for the user who started it, deals with
// those). With want set, an installation of another provider is InvalidArgument.
func (s *server) installationForOrg(ctx context.Context, org, id string, want types.Provider) (dbq.Installation, error) {
	if id == "" {
		return dbq.Installation{}, errInvalid("installation_id is required")
	}
	inst, err := s.q().GetInstallationForOrg(ctx, dbq.GetInstallationForOrgParams{ID: id, OrgID: org})
	if db.IsNotFound(err) || (err == nil && inst.Status == types.InstallationPending) {
		return dbq.Installation{}, errNotFound("connection")
	}
	if err != nil {
		return dbq.Installation{}, err
	}
	if want != "" && inst.Provider != want {
		return dbq.Installation{}, errInvalid("connection %s is a %s connection, not %s", id, inst.Provider, want)
	}
	return inst, nil
}

// activeInstallationForOrg is installationForOrg for calls that need a working connection.
func (s *server) activeInstallationForOrg(ctx context.Context, org, id string, want types.Provider) (dbq.Installation, error) {
	inst, err := s.installationForOrg(ctx, org, id, want)
	if err != nil {
		return inst, err
	}
	if inst.Status != types.InstallationActive {
		return inst, errPrecondition("connection %s is %s, not active", id, inst.Status)
	}
	return inst, nil
}

// latestActive returns the org's most recent active installation of provider; none is NotFound.
func (s *server) latestActive(ctx context.Context, org string, p types.Provider) (dbq.Installation, error) {
	active, provider := types.InstallationActive, string(p)
	rows, err := s.q().ListInstallationsByOrg(ctx, dbq.ListInstallationsByOrgParams{OrgID: org, Provider: &provider, Status: &active})
	if err != nil {
		return dbq.Installation{}, err
	}
	if len(rows) == 0 {
		return dbq.Installation{}, errNotFound(string(p) + " connection")
	}
	return rows[len(rows)-1], nil
}

// token reads the installation's access token from the vault (one query and a decrypt).
func (s *server) token(ctx context.Context, org, installationID string) (string, error) {
	t, err := vault.GetForOrg(ctx, s.Pool, s.Keyring, org, installationID)
	if err != nil {
		return "", err
	}
	return t.AccessToken.Reveal(), nil
}
