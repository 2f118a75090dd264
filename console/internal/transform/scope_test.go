package transform_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/transform"
	"github.com/lightfastai/connections/db/dbtest"
	"github.com/lightfastai/connections/db/types"
)

func TestGitHubDeliveryScope(t *testing.T) {
	t.Parallel()
	push, err := transform.GitHubDeliveryScope("push", dbtest.Fixture(t, "github/push/with-new-branch.payload.json"))
	require.NoError(t, err)
	require.True(t, push.IsPush)
	require.True(t, push.HasBranch)
	require.Equal(t, "master", push.Branch)
	require.NotEmpty(t, push.Files)

	tag, err := transform.GitHubDeliveryScope("push", []byte(`{"ref":"refs/tags/v1","commits":[{"added":["a"],"modified":["b"],"removed":["c"]}]}`))
	require.NoError(t, err)
	require.False(t, tag.HasBranch, "a tag is not a branch")
	require.Equal(t, []string{"a", "b", "c"}, tag.Files)

	pr, err := transform.GitHubDeliveryScope("pull_request.opened", dbtest.Fixture(t, "github/pull_request/opened.payload.json"))
	require.NoError(t, err)
	require.Equal(t, transform.GitHubScope{HasBranch: true, Branch: "master"}, pr, "a pull request is scoped by its base")

	none, err := transform.GitHubDeliveryScope("issues", []byte(`not even json`))
	require.NoError(t, err, "other events are not read")
	require.Equal(t, transform.GitHubScope{}, none)

	_, err = transform.GitHubDeliveryScope("push", []byte(`{"ref":`))
	require.ErrorIs(t, err, transform.ErrInvalidPayload)
}

// BenchmarkGitHubDeliveryScope is the extra read the sync_config rules cost a push, next to the
// transform it already gets.
func BenchmarkGitHubDeliveryScope(b *testing.B) {
	payload := dbtest.Fixture(b, "github/push/with-new-branch.payload.json")
	b.Run("scope", func(b *testing.B) {
		for b.Loop() {
			if _, err := transform.GitHubDeliveryScope("push", payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("transform", func(b *testing.B) {
		for b.Loop() {
			if _, err := transform.Transform(transform.Input{Provider: types.GitHub, EventType: "push", Payload: payload, ReceivedAt: time.Now()}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
