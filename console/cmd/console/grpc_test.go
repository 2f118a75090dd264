package main_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lightfastai/connections/db/testproc"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// TestPlainGRPCClient runs the real binary and calls it with grpc-go over unencrypted HTTP/2 (h2c, prior
// knowledge), as grpcurl -plaintext does: the Connect handlers answer the gRPC protocol on the same port
// as Connect JSON over HTTP/1.1.
func TestPlainGRPCClient(t *testing.T) {
	t.Parallel()
	bin := testproc.Build(t, ".")
	env := baseEnv(t)
	p := testproc.Start(t, bin, env, "serve")
	p.WaitReady(t, readyURL(env), 20*time.Second)

	cmd := exec.Command(bin, "dev-token", "--user", "user_1", "--org", "org_1", "--role", "admin")
	cmd.Env = []string{"AUTH_DEV_SECRET=" + env["AUTH_DEV_SECRET"]}
	out, err := cmd.Output()
	require.NoError(t, err)
	tok := strings.TrimSpace(string(out))

	conn, err := grpc.NewClient(env["CONSOLE_ADDR"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)

	created := &consolev1.CreateWorkspaceResponse{}
	require.NoError(t, conn.Invoke(authed, "/lightfast.console.v1.WorkspaceService/CreateWorkspace",
		&consolev1.CreateWorkspaceRequest{Name: "Over gRPC"}, created))
	require.Equal(t, "over-grpc", created.GetWorkspace().GetSlug())

	listed := &consolev1.ListWorkspacesResponse{}
	require.NoError(t, conn.Invoke(authed, "/lightfast.console.v1.WorkspaceService/ListWorkspaces", &consolev1.ListWorkspacesRequest{}, listed))
	require.Len(t, listed.GetWorkspaces(), 1)
	require.Equal(t, created.GetWorkspace().GetId(), listed.GetWorkspaces()[0].GetId())

	// Errors arrive as gRPC status codes.
	err = conn.Invoke(ctx, "/lightfast.console.v1.WorkspaceService/ListWorkspaces", &consolev1.ListWorkspacesRequest{}, &consolev1.ListWorkspacesResponse{})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
	err = conn.Invoke(authed, "/lightfast.console.v1.JobService/ListJobs", &consolev1.ListJobsRequest{WorkspaceId: "nope"}, &consolev1.ListJobsResponse{})
	require.Equal(t, codes.NotFound, status.Code(err), "%v", err)
}
