package pages

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/auth"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

// principalAPI answers ListWorkspaces with the caller's org, as the real handlers would see it after the
// auth interceptor.
type principalAPI struct {
	consolev1connect.UnimplementedWorkspaceServiceHandler
}

func (principalAPI) ListWorkspaces(ctx context.Context, _ *connect.Request[consolev1.ListWorkspacesRequest]) (*connect.Response[consolev1.ListWorkspacesResponse], error) {
	p, _ := auth.PrincipalFrom(ctx)
	return connect.NewResponse(&consolev1.ListWorkspacesResponse{Workspaces: []*consolev1.Workspace{{Id: p.OrgID, Name: p.UserID}}}), nil
}

func TestNewServicesCallsInProcessWithTheSession(t *testing.T) {
	t.Parallel()
	v := auth.NewVerifier(auth.Config{DevSecret: devSecret})
	mux := http.NewServeMux()
	mux.Handle(consolev1connect.NewWorkspaceServiceHandler(principalAPI{}, connect.WithInterceptors(auth.UserInterceptor(v))))
	svc := NewServices(mux)

	ctx := withSession(context.Background(), token(t, "org_a"))
	res, err := svc.Workspaces.ListWorkspaces(ctx, connect.NewRequest(&consolev1.ListWorkspacesRequest{}))
	require.NoError(t, err)
	require.Equal(t, "org_a", res.Msg.GetWorkspaces()[0].GetId())
	require.Equal(t, "user_1", res.Msg.GetWorkspaces()[0].GetName())

	// Without a session the API's own interceptor refuses, and the error keeps its code.
	_, err = svc.Workspaces.ListWorkspaces(context.Background(), connect.NewRequest(&consolev1.ListWorkspacesRequest{}))
	require.Equal(t, connect.CodeUnauthenticated, connect.CodeOf(err))

	// A procedure the handler does not serve is Unimplemented, through the same path.
	_, err = svc.Workspaces.CreateWorkspace(ctx, connect.NewRequest(&consolev1.CreateWorkspaceRequest{Name: "x"}))
	require.Equal(t, connect.CodeUnimplemented, connect.CodeOf(err))
	// A service that is not mounted at all answers 404, which Connect reports as Unimplemented.
	_, err = svc.Connections.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	require.Equal(t, connect.CodeUnimplemented, connect.CodeOf(err))
}
