package pages

import (
	"net/http"

	"connectrpc.com/connect"
	"github.com/labstack/echo/v4"

	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

type workspacesData struct {
	Workspaces []*consolev1.Workspace
}

// workspaces lists the organisation's workspaces; the create form calls WorkspaceService.CreateWorkspace.
func (p *Pages) workspaces(c echo.Context) error {
	ctx, pr, ok, err := p.session(c)
	if !ok {
		return err
	}
	res, err := p.svc.Workspaces.ListWorkspaces(ctx, connect.NewRequest(&consolev1.ListWorkspacesRequest{}))
	if err != nil {
		return p.fail(c, err)
	}
	return p.render(c, http.StatusOK, "workspaces", page{
		Title: "Workspaces", User: &pr, Data: workspacesData{Workspaces: res.Msg.GetWorkspaces()},
	})
}
