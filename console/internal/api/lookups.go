package api

import (
	"context"

	"connectrpc.com/connect"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// vercelService implements VercelService.
type vercelService struct{ *server }

// linearService implements LinearService.
type linearService struct{ *server }

// sentryService implements SentryService.
type sentryService struct{ *server }

func (s vercelService) GetVercelConnection(ctx context.Context, req *connect.Request[consolev1.GetVercelConnectionRequest]) (*connect.Response[consolev1.GetVercelConnectionResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var inst dbq.Installation
	if id := req.Msg.GetInstallationId(); id != "" {
		inst, err = s.installationForOrg(ctx, p.OrgID, id, types.Vercel)
	} else {
		inst, err = s.latestActive(ctx, p.OrgID, types.Vercel)
	}
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.GetVercelConnectionResponse{Connection: connectionMsg(inst)}), nil
}

// vercelTeamID is the team every call of a team installation must name.
func vercelTeamID(inst dbq.Installation) string {
	if inst.ProviderAccountInfo != nil && inst.ProviderAccountInfo.Vercel != nil {
		return inst.ProviderAccountInfo.Vercel.TeamID
	}
	return ""
}

func (s vercelService) ListProjects(ctx context.Context, req *connect.Request[consolev1.ListProjectsRequest]) (*connect.Response[consolev1.ListProjectsResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkPageSize(req.Msg.GetPageSize()); err != nil {
		return nil, err
	}
	if c := req.Msg.GetCursor(); c != "" && !isTimestampCursor(c) {
		return nil, errInvalid("cursor is not one this server returned")
	}
	inst, err := s.activeInstallationForOrg(ctx, p.OrgID, req.Msg.GetInstallationId(), types.Vercel)
	if err != nil {
		return nil, err
	}
	token, err := s.token(ctx, p.OrgID, inst.ID)
	if err != nil {
		return nil, err
	}
	res, err := s.Providers.Vercel.ListProjects(ctx, token, vercelTeamID(inst), int(req.Msg.GetPageSize()), req.Msg.GetCursor())
	if err != nil {
		return nil, err
	}
	out := &consolev1.ListProjectsResponse{Projects: make([]*consolev1.VercelProject, 0, len(res.Projects)), NextCursor: res.Next}
	for _, pr := range res.Projects {
		out.Projects = append(out.Projects, &consolev1.VercelProject{Id: pr.ID, Name: pr.Name})
	}
	return connect.NewResponse(out), nil
}

// isTimestampCursor accepts Vercel's cursors (Unix milliseconds).
func isTimestampCursor(c string) bool {
	if len(c) == 0 || len(c) > 16 {
		return false
	}
	for _, r := range c {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (s linearService) ListTeams(ctx context.Context, req *connect.Request[consolev1.ListTeamsRequest]) (*connect.Response[consolev1.ListTeamsResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkPageSize(req.Msg.GetPageSize()); err != nil {
		return nil, err
	}
	if len(req.Msg.GetCursor()) > 200 {
		return nil, errInvalid("cursor is not one this server returned")
	}
	inst, err := s.activeInstallationForOrg(ctx, p.OrgID, req.Msg.GetInstallationId(), types.Linear)
	if err != nil {
		return nil, err
	}
	token, err := s.token(ctx, p.OrgID, inst.ID)
	if err != nil {
		return nil, err
	}
	res, err := s.Providers.Linear.ListTeams(ctx, token, int(req.Msg.GetPageSize()), req.Msg.GetCursor())
	if err != nil {
		return nil, err
	}
	out := &consolev1.ListTeamsResponse{Teams: make([]*consolev1.LinearTeam, 0, len(res.Teams)), NextCursor: res.EndCursor}
	for _, t := range res.Teams {
		out.Teams = append(out.Teams, &consolev1.LinearTeam{Id: t.ID, Key: t.Key, Name: t.Name})
	}
	return connect.NewResponse(out), nil
}

// sentryOrgSlug is the organisation a Sentry installation belongs to.
func sentryOrgSlug(inst dbq.Installation) string {
	if inst.ProviderAccountInfo != nil && inst.ProviderAccountInfo.Sentry != nil {
		return inst.ProviderAccountInfo.Sentry.OrgSlug
	}
	return ""
}

func (s sentryService) ListSentryProjects(ctx context.Context, req *connect.Request[consolev1.ListSentryProjectsRequest]) (*connect.Response[consolev1.ListSentryProjectsResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkPageSize(req.Msg.GetPageSize()); err != nil {
		return nil, err
	}
	if len(req.Msg.GetCursor()) > 200 {
		return nil, errInvalid("cursor is not one this server returned")
	}
	inst, err := s.activeInstallationForOrg(ctx, p.OrgID, req.Msg.GetInstallationId(), types.Sentry)
	if err != nil {
		return nil, err
	}
	org := sentryOrgSlug(inst)
	if org == "" {
		return nil, errPrecondition("connection %s has no Sentry organization recorded", inst.ID)
	}
	token, err := s.token(ctx, p.OrgID, inst.ID)
	if err != nil {
		return nil, err
	}
	res, err := s.Providers.Sentry.ListProjects(ctx, token, org, req.Msg.GetCursor(), int(req.Msg.GetPageSize()))
	if err != nil {
		return nil, err
	}
	out := &consolev1.ListSentryProjectsResponse{Projects: make([]*consolev1.SentryProject, 0, len(res.Projects)), NextCursor: res.NextCursor}
	for _, pr := range res.Projects {
		out.Projects = append(out.Projects, &consolev1.SentryProject{Id: pr.ID, Slug: pr.Slug, Name: pr.Name, OrgSlug: org})
	}
	return connect.NewResponse(out), nil
}
