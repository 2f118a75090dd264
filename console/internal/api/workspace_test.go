package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/api"
	"github.com/lightfastai/connections/console/internal/auth"

	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

func TestWorkspaces(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.admin("org_a")
	ctx := context.Background()

	created, err := c.ws.CreateWorkspace(ctx, connect.NewRequest(&consolev1.CreateWorkspaceRequest{Name: "  Acme Web — Prod!  "}))
	require.NoError(t, err)
	w := created.Msg.GetWorkspace()
	require.Equal(t, "Acme Web — Prod!", w.GetName())
	require.Equal(t, "acme-web-prod", w.GetSlug(), "slug derived from the name")
	require.Len(t, w.GetId(), 21)

	_, err = c.ws.CreateWorkspace(ctx, connect.NewRequest(&consolev1.CreateWorkspaceRequest{Name: "Other", Slug: "other"}))
	require.NoError(t, err)

	list, err := c.ws.ListWorkspaces(ctx, connect.NewRequest(&consolev1.ListWorkspacesRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetWorkspaces(), 2)

	got, err := c.ws.GetWorkspace(ctx, connect.NewRequest(&consolev1.GetWorkspaceRequest{Workspace: &consolev1.GetWorkspaceRequest_Slug{Slug: "acme-web-prod"}}))
	require.NoError(t, err)
	require.Equal(t, w.GetId(), got.Msg.GetWorkspace().GetId())
	got, err = c.ws.GetWorkspace(ctx, connect.NewRequest(&consolev1.GetWorkspaceRequest{Workspace: &consolev1.GetWorkspaceRequest_WorkspaceId{WorkspaceId: w.GetId()}}))
	require.NoError(t, err)
	require.Equal(t, "acme-web-prod", got.Msg.GetWorkspace().GetSlug())

	// Another org may use the same slug; it does not see org_a's workspaces.
	b := e.admin("org_b")
	_, err = b.ws.CreateWorkspace(ctx, connect.NewRequest(&consolev1.CreateWorkspaceRequest{Name: "Other", Slug: "other"}))
	require.NoError(t, err)
	list, err = b.ws.ListWorkspaces(ctx, connect.NewRequest(&consolev1.ListWorkspacesRequest{}))
	require.NoError(t, err)
	require.Len(t, list.Msg.GetWorkspaces(), 1)
}

func TestWorkspaceBadInput(t *testing.T) {
	t.Parallel()
	e := setup(t)
	c := e.admin("org_a")
	ctx := context.Background()
	_, err := c.ws.CreateWorkspace(ctx, connect.NewRequest(&consolev1.CreateWorkspaceRequest{Name: "Taken", Slug: "taken"}))
	require.NoError(t, err)
	before := e.snapshot()

	for name, req := range map[string]*consolev1.CreateWorkspaceRequest{
		"empty name":        {Name: "   "},
		"long name":         {Name: strings.Repeat("x", 192)},
		"bad slug":          {Name: "X", Slug: "Not A Slug"},
		"slug double dash":  {Name: "X", Slug: "a--b"},
		"long slug":         {Name: "X", Slug: strings.Repeat("a", 65)},
		"name without slug": {Name: "!!!"},
	} {
		_, err := c.ws.CreateWorkspace(ctx, connect.NewRequest(req))
		requireCode(t, err, connect.CodeInvalidArgument)
		_ = name
	}
	_, err = c.ws.CreateWorkspace(ctx, connect.NewRequest(&consolev1.CreateWorkspaceRequest{Name: "Again", Slug: "taken"}))
	requireCode(t, err, connect.CodeAlreadyExists)

	_, err = c.ws.GetWorkspace(ctx, connect.NewRequest(&consolev1.GetWorkspaceRequest{}))
	requireCode(t, err, connect.CodeInvalidArgument)
	_, err = c.ws.GetWorkspace(ctx, connect.NewRequest(&consolev1.GetWorkspaceRequest{Workspace: &consolev1.GetWorkspaceRequest_Slug{Slug: "nope"}}))
	requireCode(t, err, connect.CodeNotFound)
	require.Equal(t, before, e.snapshot())
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	list := func(c clients) error {
		_, err := c.ws.ListWorkspaces(ctx, connect.NewRequest(&consolev1.ListWorkspacesRequest{}))
		return err
	}
	sign := func(secret string, claims jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
		require.NoError(t, err)
		return s
	}
	now := time.Now()
	for name, tok := range map[string]string{
		"no token":     "",
		"garbage":      "abc.def.ghi",
		"expired":      sign(devSecret, jwt.MapClaims{"sub": "u", "org_id": "o", "exp": now.Add(-time.Minute).Unix()}),
		"badly signed": sign("another-secret", jwt.MapClaims{"sub": "u", "org_id": "o", "exp": now.Add(time.Minute).Unix()}),
		"m2m key":      m2mKey,
	} {
		t.Run(name, func(t *testing.T) {
			err := list(e.as(tok))
			cerr := requireConnectError(t, err, connect.CodeUnauthenticated)
			if tok != "" {
				require.NotContains(t, cerr.Message(), tok)
			}
		})
	}

	t.Run("session cookie", func(t *testing.T) {
		c := clientsWithCookie(e, token(t, "u", "org_a", "member"))
		require.NoError(t, list(c))
	})

	t.Run("no org", func(t *testing.T) {
		err := list(e.as(token(t, "u", "", "")))
		cerr := requireConnectError(t, err, connect.CodePermissionDenied)
		require.Contains(t, cerr.Message(), "no active organization")
	})

	t.Run("m2m", func(t *testing.T) {
		call := func(tok string) error {
			_, err := e.as(tok).src.MarkGithubDeleted(ctx, connect.NewRequest(&consolev1.MarkGithubDeletedRequest{GithubRepoId: 1}))
			return err
		}
		requireCode(t, call(""), connect.CodeUnauthenticated)
		requireCode(t, call("wrong-key"), connect.CodeUnauthenticated)
		requireCode(t, call(token(t, "u", "org_a", "admin")), connect.CodeUnauthenticated)
		require.NoError(t, call(m2mKey))
		require.NoError(t, call("old-key"), "every configured key works (rotation)")
	})
}

func TestDevTokenRefusedInProduction(t *testing.T) {
	t.Parallel()
	e := setupWith(t, func(d *api.Deps) {
		d.Verifier = auth.NewVerifier(auth.Config{DevSecret: devSecret, Production: true})
	})
	_, err := e.admin("org_a").ws.ListWorkspaces(context.Background(), connect.NewRequest(&consolev1.ListWorkspacesRequest{}))
	requireCode(t, err, connect.CodeUnauthenticated)
}

func TestWrongIssuerIsUnauthenticated(t *testing.T) {
	t.Parallel()
	const iss = "https://clerk.lightfast.test"
	e := setupWith(t, func(d *api.Deps) {
		d.Verifier = auth.NewVerifier(auth.Config{DevSecret: devSecret, Issuer: iss})
	})
	call := func(issuer string) error {
		tok, err := auth.SignDevToken(devSecret, auth.DevTokenOptions{Principal: auth.Principal{UserID: "u", OrgID: "org_a", OrgRole: "admin"}, Issuer: issuer})
		require.NoError(t, err)
		_, err = e.as(tok).ws.ListWorkspaces(context.Background(), connect.NewRequest(&consolev1.ListWorkspacesRequest{}))
		return err
	}
	cerr := requireConnectError(t, call("https://evil.test"), connect.CodeUnauthenticated)
	require.Contains(t, cerr.Message(), "wrong issuer")
	requireCode(t, call(""), connect.CodeUnauthenticated)
	require.NoError(t, call(iss))
}
