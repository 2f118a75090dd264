package types_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/types"
)

func TestFollowsBranch(t *testing.T) {
	t.Parallel()
	cfg := types.SyncConfig{Branches: []string{"main", "release/*", "hotfix/**"}}
	for branch, want := range map[string]bool{
		"main": true, "release/1.2": true, "release/1/2": false, "hotfix/a/b": true,
		"feature/x": false, "mainline": false, "": false,
	} {
		require.Equal(t, want, cfg.FollowsBranch(branch), branch)
	}
	require.True(t, types.SyncConfig{}.FollowsBranch("anything"), "no branches: every branch")
}

func TestFollowsAnyPath(t *testing.T) {
	t.Parallel()
	all := types.SyncConfig{Paths: []string{types.AllPaths}}
	require.True(t, all.FollowsAnyPath([]string{"README.md"}), "**/* matches a file at the root")
	require.True(t, all.FollowsAnyPath([]string{"a/b/c.go"}))
	docs := types.SyncConfig{Paths: []string{"docs/**", "*.go"}}
	require.True(t, docs.FollowsAnyPath([]string{"README.md", "docs/guide/intro.md"}))
	require.True(t, docs.FollowsAnyPath([]string{"/main.go"}), "a leading slash is ignored")
	require.False(t, docs.FollowsAnyPath([]string{"README.md", "src/docs/a.md", "cmd/main.go"}))
	require.False(t, docs.FollowsAnyPath(nil))
	require.True(t, types.SyncConfig{}.FollowsAnyPath([]string{"x"}), "no paths: every path")
}

func TestValidateGlob(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"main", "release/*", "**/*", "src/**/*.go", "{a,b}", "[abc]x"} {
		require.NoError(t, types.ValidateGlob(ok), ok)
	}
	for _, bad := range []string{"", "[abc", "{a,b", "a\nb", strings.Repeat("a", types.MaxSyncPatternLen+1), "\xff"} {
		require.Error(t, types.ValidateGlob(bad), "%q", bad)
	}
}

func TestSyncConfigForLink(t *testing.T) {
	t.Parallel()
	gh := types.SyncConfigForLink(types.GitHub, types.NewGitHubResourceMeta(types.GitHubResourceMeta{DefaultBranch: "trunk"}))
	require.Equal(t, types.DefaultEvents[types.GitHub], gh.Events)
	require.Equal(t, []string{"trunk"}, gh.Branches)
	require.Equal(t, []string{"**/*"}, gh.Paths)
	require.True(t, gh.AutoSync)
	require.Empty(t, types.SyncConfigForLink(types.GitHub, nil).Branches, "no known default branch: every branch")
	ln := types.SyncConfigForLink(types.Linear, types.NewLinearResourceMeta(types.LinearResourceMeta{TeamID: "t"}))
	require.Equal(t, []string{"Issue", "Comment", "Project"}, ln.Events)
	require.Empty(t, ln.Branches)
	require.Empty(t, ln.Paths)
	require.True(t, ln.AutoSync)
}

func TestGitHubPermissionsScope(t *testing.T) {
	t.Parallel()
	perms := map[string]string{"issues": "write", "contents": "read", "pull_requests": "write"}
	scope := types.FormatGitHubPermissions(perms)
	require.Equal(t, "contents:read,issues:write,pull_requests:write", scope)
	require.Equal(t, perms, types.ParseGitHubPermissions(scope))
	require.Empty(t, types.FormatGitHubPermissions(nil))
	for _, notOurs := range []string{"", "read write", "repo", "a:b,c", "A:b", "a:b:c"} {
		require.Nil(t, types.ParseGitHubPermissions(notOurs), notOurs)
	}
}
