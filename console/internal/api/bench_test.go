package api_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// BenchmarkListSources is one authenticated Connect call over HTTP: JWT check, the workspace's org check
// and the integrations query, against real Postgres.
func BenchmarkListSources(b *testing.B) {
	e := setup(b)
	ctx := context.Background()
	ws := e.workspace("org_a", "w")
	c := e.admin("org_a")
	inst, _, repos := e.github("org_a", 10)
	req := &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, InstallationId: inst.ID}
	for _, r := range repos {
		req.Repositories = append(req.Repositories, &consolev1.GitHubRepository{Id: r.ID})
	}
	if _, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(req)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.integ.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: ws.ID})); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBulkLinkGitHub is a repeat link of 10 repositories: vault read, the repository listing from the
// simulator, one transaction writing 10 integrations and 10 gw_resources rows, then 10 cache puts.
func BenchmarkBulkLinkGitHub(b *testing.B) {
	e := setup(b)
	ctx := context.Background()
	ws := e.workspace("org_a", "w")
	c := e.admin("org_a")
	inst, _, repos := e.github("org_a", 10)
	req := &consolev1.BulkLinkGitHubRepositoriesRequest{WorkspaceId: ws.ID, InstallationId: inst.ID}
	for _, r := range repos {
		req.Repositories = append(req.Repositories, &consolev1.GitHubRepository{Id: r.ID})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.integ.BulkLinkGitHubRepositories(ctx, connect.NewRequest(req)); err != nil {
			b.Fatal(err)
		}
	}
}
