package backfill_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/backfill"
	"github.com/lightfastai/connections/console/internal/transform"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/types"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The seeds below space items SeedInterval (6 h) apart, so 250 items span about 63 days: a depth of 365
// days takes all of them.
const allHistory = 365

// requireCompleted checks a backfill that ran to the end: completed, progress equal to the provider's
// item count, one observation per item.
func requireCompleted(t *testing.T, e *env, in dbq.UpsertIntegrationRow, items int) types.BackfillState {
	t.Helper()
	st := e.waitEnded(t, in.ID, 60*time.Second)
	require.Equal(t, types.BackfillCompleted, st.Status, "error: %s", st.Error)
	require.Empty(t, st.Error)
	require.NotNil(t, st.StartedAt)
	require.NotNil(t, st.CompletedAt)
	require.EqualValues(t, items, st.Progress.Processed)
	rows, distinct := e.observations(t, in.ID)
	require.Equal(t, items, rows)
	require.Equal(t, items, distinct)
	job := e.waitJob(t, st.JobID)
	require.Equal(t, "completed", string(job.State))
	require.Empty(t, job.Errors, "never failed, never retried")
	return st
}

func TestGitHubBackfillPagesPullRequestsIssuesAndReleases(t *testing.T) {
	t.Parallel()
	e := setup(t, backfill.Config{})
	// 130 + 120 + 110 items at 100 per page: two pages of each. The issue list also holds the 130 pull
	// requests' issue twins, which are not counted twice.
	tn, in, repo := e.github(t, 130, 120, 110)
	st := e.start(t, tn, in.ID, backfill.Options{DepthDays: allHistory})
	require.Equal(t, types.BackfillPending, st.Status)
	require.NotZero(t, st.JobID)

	done := requireCompleted(t, e, in, 360)
	require.Equal(t, []string{backfill.EntityPullRequest, backfill.EntityIssue, backfill.EntityRelease}, done.Checkpoint.Done)
	got, err := e.q.GetIntegration(context.Background(), in.ID)
	require.NoError(t, err)
	require.EqualValues(t, 360, got.DocumentCount, "backfilled observations count")

	// The seeds cycle open, merged, closed: each pull request is observed in its current state, with the
	// webhook transformer's source id and type.
	counts := map[string]int{}
	rows, err := e.pool.Query(context.Background(),
		`SELECT source_type, count(*) FROM lightfast_workspace_observations WHERE integration_id = $1 GROUP BY 1`, in.ID)
	require.NoError(t, err)
	for rows.Next() {
		var typ string
		var n int
		require.NoError(t, rows.Scan(&typ, &n))
		counts[typ] = n
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[string]int{
		"pull_request.opened": 44, "pull_request.merged": 43, "pull_request.closed": 43,
		"issue.opened": 60, "issue.closed": 60, "release.published": 110,
	}, counts)
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM lightfast_workspace_observations WHERE source_id = $1`,
		transform.GitHubPullRequestSourceID(repo.ID, 2, transform.TransitionMerged)).Scan(&n))
	require.Equal(t, 1, n, "pull request #2 (the first merged one) has the webhook's source id")
}

func TestGitHubBackfillStaysWithinDepth(t *testing.T) {
	t.Parallel()
	e := setup(t, backfill.Config{})
	// Items are 6 h apart, the newest 6 h old: a one-day window holds 3 of each (6 h, 12 h, 18 h).
	tn, in, _ := e.github(t, 10, 10, 10)
	e.start(t, tn, in.ID, backfill.Options{DepthDays: 1})
	requireCompleted(t, e, in, 9)
}

func TestVercelBackfillPagesDeployments(t *testing.T) {
	t.Parallel()
	e := setup(t, backfill.Config{})
	tn, in := e.vercel(t, 250)
	e.start(t, tn, in.ID, backfill.Options{DepthDays: allHistory})
	requireCompleted(t, e, in, 250)
	require.Equal(t, 150, e.countType(t, in.ID, "deployment.succeeded"), "states cycle READY, READY, ERROR, READY, CANCELED")
}

func TestLinearBackfillPagesTeamIssues(t *testing.T) {
	t.Parallel()
	e := setup(t, backfill.Config{})
	tn, in := e.linear(t, 250, 7)
	e.start(t, tn, in.ID, backfill.Options{DepthDays: allHistory})
	requireCompleted(t, e, in, 250)
}

func TestSentryBackfillPagesProjectIssues(t *testing.T) {
	t.Parallel()
	e := setup(t, backfill.Config{})
	tn, in := e.sentry(t, 250)
	e.start(t, tn, in.ID, backfill.Options{DepthDays: allHistory})
	requireCompleted(t, e, in, 250)
	require.Equal(t, 83, e.countType(t, in.ID, "sentry.issue.resolved"), "every third seeded issue is resolved")
}

func TestExpiredTokenSnoozesUntilTheGatewayRefreshesIt(t *testing.T) {
	t.Parallel()
	e := setup(t, backfill.Config{TokenRetry: 200 * time.Millisecond})
	tn, in, _ := e.github(t, 5, 0, 0)
	ctx := context.Background()
	// The Gateway is behind on its refresh: the vault's token has expired.
	_, err := e.pool.Exec(ctx, `UPDATE lightfast_gw_tokens SET expires_at = now() - interval '1 minute' WHERE installation_id = $1`, tn.installation)
	require.NoError(t, err)
	st := e.start(t, tn, in.ID, backfill.Options{DepthDays: allHistory})
	require.Eventually(t, func() bool { return snoozes(t, e.job(t, st.JobID).Metadata) >= 2 }, 10*time.Second, 20*time.Millisecond)
	waiting := e.state(t, in.ID)
	require.Equal(t, types.BackfillRunning, waiting.Status, "waiting, not failed")
	require.Zero(t, waiting.Progress.Processed)

	// The refresh lands (the simulator's token never expired; only the vault said so).
	_, err = e.pool.Exec(ctx, `UPDATE lightfast_gw_tokens SET expires_at = now() + interval '1 hour', version = version + 1 WHERE installation_id = $1`, tn.installation)
	require.NoError(t, err)
	requireCompleted(t, e, in, 5)
}

func TestBackfillsThatCannotWorkFailClearly(t *testing.T) {
	t.Parallel()
	e := setup(t, backfill.Config{})
	inst, repos := e.sim.GitHub(t, 1)
	tn := e.tenant(t, types.GitHub, itoa(inst.ID), inst.Token)
	for _, tc := range []struct {
		name, resource string
		meta           *types.ResourceMeta
		want           string
	}{
		{"no resource metadata", "1", nil, "the integration has no github resource metadata"},
		{"metadata of another provider", "2", types.NewSentryResourceMeta(types.SentryResourceMeta{ProjectID: "1", ProjectSlug: "p", OrgSlug: "o"}),
			"the integration has no github resource metadata"},
		{"repository gone at the provider", "3", types.NewGitHubResourceMeta(types.GitHubResourceMeta{RepoID: 3, RepoFullName: repos[0].FullName + "-gone"}),
			"github: list pull requests: status 404: Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := e.link(t, tn, types.GitHub, tc.resource, tc.meta)
			st := e.start(t, tn, in.ID, backfill.Options{DepthDays: allHistory})
			final := e.waitEnded(t, in.ID, 30*time.Second)
			require.Equal(t, types.BackfillFailed, final.Status)
			require.Equal(t, tc.want, final.Error)
			job := e.waitJob(t, st.JobID)
			require.Equal(t, "cancelled", string(job.State), "not retried")
			rows, _ := e.observations(t, in.ID)
			require.Zero(t, rows)
		})
	}
}

// TestUnreadableIntegrationFailsTheBackfillAtOnce: a backfill whose integration row cannot be read (its
// resource_meta was overwritten with a malformed value after the backfill was queued) ends failed with a
// clear error and its job is cancelled, not retried against a row that stays malformed.
func TestUnreadableIntegrationFailsTheBackfillAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, backfill.Config{})
	tn, in, _ := e.github(t, 1, 0, 0)
	ctx := context.Background()
	var st types.BackfillState
	require.NoError(t, db.WithTx(ctx, e.pool, func(tx pgx.Tx) error {
		var err error
		if st, err = backfill.Start(ctx, tx, e.client, tn.org, in.ID, backfill.Options{DepthDays: allHistory}); err != nil {
			return err
		}
		// In the same transaction, so the worker never sees the readable row.
		_, err = tx.Exec(ctx, `UPDATE lightfast_workspace_integrations SET resource_meta = resource_meta || '{"repoId": {"x": 1}}' WHERE id = $1`, in.ID)
		return err
	}))
	job := e.waitJob(t, st.JobID)
	require.Equal(t, "cancelled", string(job.State), "not retried")
	require.Equal(t, 1, job.Attempt)
	var final types.BackfillState
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT backfill_state FROM lightfast_workspace_integrations WHERE id = $1`, in.ID).Scan(&final))
	require.Equal(t, types.BackfillFailed, final.Status)
	require.Equal(t, "the integration's stored settings cannot be read", final.Error)
	require.Equal(t, st.JobID, final.JobID)
	rows, _ := e.observations(t, in.ID)
	require.Zero(t, rows)
}
