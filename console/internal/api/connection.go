package api

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/pending"
	"github.com/lightfastai/connections/db/teardown"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// connectionService implements ConnectionService.
type connectionService struct{ *server }

const maxReturnToLen = 2048

// validReturnTo accepts only a path on the Console itself: "/..." but not "//host" or "/\host", which
// browsers treat as another origin.
func validReturnTo(s string) bool {
	if len(s) > maxReturnToLen || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n\t") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == ""
}

func (s connectionService) GetAuthorizeURL(ctx context.Context, req *connect.Request[consolev1.GetAuthorizeURLRequest]) (*connect.Response[consolev1.GetAuthorizeURLResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	provider, err := fromProtoProvider(req.Msg.GetProvider())
	if err != nil {
		return nil, err
	}
	returnTo := req.Msg.GetReturnTo()
	if req.Msg.ReturnTo != nil && !validReturnTo(returnTo) {
		return nil, errInvalid("return_to must be a path on the Console, such as /sources")
	}
	issued := s.Now()
	token, err := oauthstate.CreateState(ctx, s.Pool, provider, p.OrgID, p.UserID, returnTo)
	if err != nil {
		return nil, err
	}
	// This is the only use of GATEWAY_PUBLIC_URL in the Console: a link for the browser, never a request.
	authorize := s.GatewayPublicURL + "/connections/" + string(provider) + "/authorize?state=" + url.QueryEscape(token)
	return connect.NewResponse(&consolev1.GetAuthorizeURLResponse{
		AuthorizeUrl: authorize,
		ExpiresAt:    timestamppb.New(issued.Add(oauthstate.TTL)),
	}), nil
}

// maxInstallationIDLen bounds an installation id from a request; real ones are 21 characters.
const maxInstallationIDLen = 191

func (s connectionService) ConfirmConnection(ctx context.Context, req *connect.Request[consolev1.ConfirmConnectionRequest]) (*connect.Response[consolev1.ConfirmConnectionResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	id := req.Msg.GetInstallationId()
	if id == "" || len(id) > maxInstallationIDLen {
		return nil, errInvalid("installation_id is required")
	}
	if s.River == nil {
		return nil, errors.New("confirm connection: no job client to enqueue a provider revoke")
	}
	var res pending.Result
	err = db.WithTx(ctx, s.Pool, func(tx pgx.Tx) error {
		res, err = pending.Confirm(ctx, tx, s.River, id, p.OrgID, p.UserID, s.Now())
		return err
	})
	if err != nil {
		return nil, err
	}
	inst := res.Installation
	switch res.Outcome {
	case pending.Confirmed:
		if s.Routes != nil {
			s.Routes.PutInstallation(context.WithoutCancel(ctx), inst.Provider, inst.ExternalID, inst.ID)
		}
		s.Log.Info("connection confirmed", zap.String("installation_id", inst.ID), zap.String("provider", string(inst.Provider)),
			zap.String("org_id", p.OrgID))
	case pending.AlreadyActive:
	case pending.Refused:
		// Not the caller's: somebody else's connect link, or confirmed too late. It is gone now.
		teardown.DropRoutes(context.WithoutCancel(ctx), s.Routes, res.Removed)
		s.Log.Warn("pending connection refused and removed: the session is not the one that started it, or it expired",
			zap.String("installation_id", inst.ID), zap.String("provider", string(inst.Provider)),
			zap.String("org_id", p.OrgID), zap.String("user_id", p.UserID))
		return nil, errNotFound("connection")
	default:
		return nil, errNotFound("connection")
	}
	return connect.NewResponse(&consolev1.ConfirmConnectionResponse{Connection: connectionMsg(inst)}), nil
}

func (s connectionService) ListConnections(ctx context.Context, req *connect.Request[consolev1.ListConnectionsRequest]) (*connect.Response[consolev1.ListConnectionsResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	params := dbq.ListInstallationsByOrgParams{OrgID: p.OrgID}
	if req.Msg.GetProvider() != consolev1.Provider_PROVIDER_UNSPECIFIED {
		provider, err := fromProtoProvider(req.Msg.GetProvider())
		if err != nil {
			return nil, err
		}
		ps := string(provider)
		params.Provider = &ps
	}
	rows, err := s.q().ListInstallationsByOrg(ctx, params)
	if err != nil {
		return nil, err
	}
	// Active ones, and those in error so a page can offer Reconnect; never pending (not yet confirmed by
	// whoever started them) nor revoked.
	listed := rows[:0]
	for _, r := range rows {
		if r.Status == types.InstallationActive || r.Status == types.InstallationError {
			listed = append(listed, r)
		}
	}
	return connect.NewResponse(&consolev1.ListConnectionsResponse{Connections: connectionsMsg(listed)}), nil
}

func (s connectionService) GetConnection(ctx context.Context, req *connect.Request[consolev1.GetConnectionRequest]) (*connect.Response[consolev1.GetConnectionResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var inst dbq.Installation
	switch sel := req.Msg.GetConnection().(type) {
	case *consolev1.GetConnectionRequest_Provider:
		provider, perr := fromProtoProvider(sel.Provider)
		if perr != nil {
			return nil, perr
		}
		inst, err = s.latestActive(ctx, p.OrgID, provider)
	case *consolev1.GetConnectionRequest_InstallationId:
		inst, err = s.installationForOrg(ctx, p.OrgID, sel.InstallationId, "")
	default:
		return nil, errInvalid("provider or installation_id is required")
	}
	if err != nil {
		return nil, err
	}
	rows, err := s.q().ListResourcesByInstallation(ctx, inst.ID)
	if err != nil {
		return nil, err
	}
	resources := make([]*consolev1.Resource, 0, len(rows))
	for _, r := range rows {
		resources = append(resources, resourceMsg(r))
	}
	return connect.NewResponse(&consolev1.GetConnectionResponse{Connection: connectionMsg(inst), Resources: resources}), nil
}

func (s connectionService) Disconnect(ctx context.Context, req *connect.Request[consolev1.DisconnectRequest]) (*connect.Response[consolev1.DisconnectResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	// The role is checked before the id is looked at, so a member learns nothing about which ids exist.
	if !p.IsAdmin() {
		return nil, errNotAdmin
	}
	if req.Msg.GetInstallationId() == "" {
		return nil, errInvalid("installation_id is required")
	}
	var res teardown.Result
	err = db.WithTx(ctx, s.Pool, func(tx pgx.Tx) error {
		inst, err := dbq.New(tx).GetInstallationForOrg(ctx, dbq.GetInstallationForOrgParams{ID: req.Msg.GetInstallationId(), OrgID: p.OrgID})
		if db.IsNotFound(err) || (err == nil && inst.Status == types.InstallationPending) {
			return errNotFound("connection")
		}
		if err != nil {
			return err
		}
		// The same transaction as the Gateway's DELETE /connections/:provider/:id; the provider revoke is
		// the Gateway's installation.revoke job, enqueued in this transaction.
		res, err = teardown.RevokeLater(ctx, tx, s.River, inst.Provider, inst.ID, teardown.ReasonDisconnected)
		return err
	})
	if err != nil {
		return nil, err
	}
	teardown.DropRoutes(context.WithoutCancel(ctx), s.Routes, res)
	return connect.NewResponse(&consolev1.DisconnectResponse{}), nil
}
