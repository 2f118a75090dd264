package worker_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/worker"
	"github.com/lightfastai/connections/db/types"
)

// The fixtures' repository (Codertocat/Hello-World).
const repoID = "186853002"

func TestPullRequestBecomesOneObservation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	in := b.integrate(t, tn, tn.workspace, types.GitHub, repoID, nil, nil)
	payload := fixture(t, "github/pull_request/opened.payload.json")

	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "pull_request", installation: tn.installation, resource: repoID, payload: payload}, nil)
	ev := b.wait(t, job)
	require.Equal(t, river.EventKindJobCompleted, ev.Kind)

	d := b.delivery(t, id)
	require.Equal(t, types.DeliveryDelivered, d.Status)
	require.NotNil(t, d.ProcessedAt)
	require.Nil(t, d.LastError)
	require.EqualValues(t, 1, d.Attempts)

	obs := b.observations(t, tn.workspace)
	require.Len(t, obs, 1)
	o := obs[0]
	require.Equal(t, "github:pr:186853002:2:opened", o.SourceID)
	require.Equal(t, "pull_request.opened", o.SourceType)
	require.Equal(t, types.GitHub, o.Provider)
	require.Equal(t, "PR #2 opened: Update the README with new information.", o.Title)
	require.Equal(t, in.ID, *o.IntegrationID)
	require.Equal(t, id, *o.DeliveryID)
	require.Equal(t, "Codertocat", o.Actor.Login)
	require.Equal(t, "https://github.com/Codertocat/Hello-World/pull/2", *o.Url)

	got, err := b.q.GetIntegration(context.Background(), in.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, got.DocumentCount)
	require.InDelta(t, 1, b.counter(t, "github", "pull_request", worker.OutcomeProcessed), 0)
	require.EqualValues(t, 1, b.lagSamples(t))

	// The same job again (a duplicate enqueue or a rescue of a finished job): nothing changes.
	again := b.requeue(t, id)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, again).Kind)
	require.Equal(t, 1, b.countObservations(t))
	require.EqualValues(t, 1, b.delivery(t, id).Attempts)

	// GitHub redelivering the event under a new delivery id: the same fact, so still one row.
	id2, job2 := b.ingest(t, delivery{provider: types.GitHub, event: "pull_request.opened", installation: tn.installation, resource: repoID, payload: payload}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job2).Kind)
	require.Equal(t, types.DeliveryDelivered, b.delivery(t, id2).Status)
	require.Equal(t, 1, b.countObservations(t))
	got, err = b.q.GetIntegration(context.Background(), in.ID)
	require.NoError(t, err)
	require.EqualValues(t, 1, got.DocumentCount, "only new rows count")
}

func TestCrashBeforeCompletionLeavesNoTraceAndRetryWritesOnce(t *testing.T) {
	t.Parallel()
	var (
		calls   atomic.Int32
		b       *bundle
		inCrash = make(chan int, 1)
	)
	crash := func(ctx context.Context) error {
		if calls.Add(1) > 1 {
			return nil
		}
		// The observation is written in this transaction but not visible outside it, and the job is not
		// completed: what a process killed right here leaves behind is nothing at all.
		var n int
		if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM lightfast_workspace_observations`).Scan(&n); err != nil {
			return err
		}
		inCrash <- n
		return errors.New("simulated crash between the observation insert and the job completion")
	}
	b = setup(t, crash)
	tn := b.tenant(t, types.GitHub)
	b.integrate(t, tn, tn.workspace, types.GitHub, repoID, nil, nil)

	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "push", installation: tn.installation, resource: repoID,
		payload: fixture(t, "github/push/with-new-branch.payload.json")}, &river.InsertOpts{MaxAttempts: 3})
	require.Equal(t, 0, <-inCrash, "uncommitted observations are invisible")
	ev := b.wait(t, job)
	require.Equal(t, river.EventKindJobCompleted, ev.Kind)
	require.Equal(t, 2, ev.Job.Attempt)
	require.EqualValues(t, 2, calls.Load())

	require.Equal(t, 1, b.countObservations(t))
	d := b.delivery(t, id)
	require.Equal(t, types.DeliveryDelivered, d.Status)
	require.Nil(t, d.LastError, "success clears the first attempt's error")
	require.EqualValues(t, 2, d.Attempts)
	require.InDelta(t, 1, b.counter(t, "github", "push", worker.OutcomeFailed), 0)
	require.InDelta(t, 1, b.counter(t, "github", "push", worker.OutcomeProcessed), 0)
}

func TestAllowList(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	onlyPush := b.integrate(t, tn, tn.workspace, types.GitHub, repoID, []string{"push"}, nil)
	other := b.workspace(t, tn, "other")
	b.integrate(t, tn, other, types.GitHub, repoID, []string{"issues", "pull_request.opened"}, nil)
	payload := fixture(t, "github/pull_request/opened.payload.json")

	// One workspace does not take pull requests, the other names the event with its action.
	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "pull_request.opened", installation: tn.installation, resource: repoID, payload: payload}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	require.Equal(t, types.DeliveryDelivered, b.delivery(t, id).Status)
	require.Empty(t, b.observations(t, tn.workspace))
	require.Len(t, b.observations(t, other), 1)

	// Nobody takes releases: ignored, nothing written.
	id, job = b.ingest(t, delivery{provider: types.GitHub, event: "release", installation: tn.installation, resource: repoID,
		payload: fixture(t, "github/release/published.payload.json")}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	d := b.delivery(t, id)
	require.Equal(t, types.DeliveryIgnored, d.Status)
	require.NotNil(t, d.ProcessedAt)
	require.Equal(t, 1, b.countObservations(t))
	require.InDelta(t, 1, b.counter(t, "github", "release", worker.OutcomeIgnored), 0)

	got, err := b.q.GetIntegration(context.Background(), onlyPush.ID)
	require.NoError(t, err)
	require.Zero(t, got.DocumentCount)
}

func TestInactiveIntegrationRecordsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	b.integrate(t, tn, tn.workspace, types.GitHub, repoID, nil, nil)
	n, err := b.q.DeactivateIntegrationsForInstallation(context.Background(), tn.installation)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)

	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "issues", installation: tn.installation, resource: repoID,
		payload: fixture(t, "github/issues/opened.payload.json")}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	require.Equal(t, types.DeliveryIgnored, b.delivery(t, id).Status)
	require.Zero(t, b.countObservations(t))
}

func TestUnhandledActionIsIgnored(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	b.integrate(t, tn, tn.workspace, types.GitHub, repoID, nil, nil)
	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "pull_request", installation: tn.installation, resource: repoID,
		payload: fixture(t, "github/pull_request/labeled.payload.json")}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	require.Equal(t, types.DeliveryIgnored, b.delivery(t, id).Status)
	require.Zero(t, b.countObservations(t))
}

func TestLastAttemptDeadLettersAndReplayProcesses(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	b := setup(t, func(context.Context) error {
		if failing.Load() {
			return errors.New("database went away")
		}
		return nil
	})
	tn := b.tenant(t, types.GitHub)
	b.integrate(t, tn, tn.workspace, types.GitHub, repoID, nil, nil)

	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "issues", installation: tn.installation, resource: repoID,
		payload: fixture(t, "github/issues/opened.payload.json")}, &river.InsertOpts{MaxAttempts: 2})
	ev := b.wait(t, job)
	require.Equal(t, river.EventKindJobFailed, ev.Kind)
	require.Equal(t, rivertype.JobStateDiscarded, ev.Job.State)
	require.Equal(t, 2, ev.Job.Attempt)

	d := b.delivery(t, id)
	require.Equal(t, types.DeliveryDLQ, d.Status)
	require.NotNil(t, d.LastError)
	require.Equal(t, "database went away", *d.LastError)
	require.EqualValues(t, 2, d.Attempts)
	require.NotNil(t, d.ProcessedAt)
	require.Zero(t, b.countObservations(t))
	require.InDelta(t, 1, b.counter(t, "github", "issues", worker.OutcomeFailed), 0)
	require.InDelta(t, 1, b.counter(t, "github", "issues", worker.OutcomeDLQ), 0)

	// The gateway's replay moves it back to received and queues a new job; now it goes through.
	failing.Store(false)
	_, err := b.pool.Exec(context.Background(),
		`UPDATE lightfast_gw_webhook_deliveries SET status = 'received', last_error = NULL, processed_at = NULL WHERE id = $1`, id)
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, b.requeue(t, id)).Kind)
	require.Equal(t, types.DeliveryDelivered, b.delivery(t, id).Status)
	require.Equal(t, 1, b.countObservations(t))
}

func TestDeadLetteredDeliveryIsProcessedByAReplayedJob(t *testing.T) {
	t.Parallel()
	// A replay may also re-run the discarded job itself without touching the row first.
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	b.integrate(t, tn, tn.workspace, types.GitHub, repoID, nil, nil)
	id, err := b.insertDelivery(context.Background(), b.q, "dlq-"+tn.installation, delivery{
		provider: types.GitHub, event: "issues", installation: tn.installation, resource: repoID,
		payload: fixture(t, "github/issues/opened.payload.json"), status: types.DeliveryDLQ,
	})
	require.NoError(t, err)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, b.requeue(t, id)).Kind)
	require.Equal(t, types.DeliveryDelivered, b.delivery(t, id).Status)
	require.Equal(t, 1, b.countObservations(t))
}

func TestInvalidPayloadIsDeadLetteredAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	tn := b.tenant(t, types.GitHub)
	b.integrate(t, tn, tn.workspace, types.GitHub, repoID, nil, nil)
	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "pull_request", installation: tn.installation, resource: repoID,
		payload: []byte(`{"action":"opened","pull_request":{"number":"secret-looking-value"}}`)}, &river.InsertOpts{MaxAttempts: 8})
	ev := b.wait(t, job)
	require.Equal(t, river.EventKindJobCancelled, ev.Kind)
	require.Equal(t, 1, ev.Job.Attempt, "no retries for a payload that can never be read")

	d := b.delivery(t, id)
	require.Equal(t, types.DeliveryDLQ, d.Status)
	require.NotNil(t, d.LastError)
	require.Contains(t, *d.LastError, "invalid payload")
	require.NotContains(t, *d.LastError, "secret-looking-value", "payload bytes never reach last_error")
	require.Zero(t, b.countObservations(t))
}

func TestMissingDeliveryCancelsTheJob(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ev := b.wait(t, b.requeue(t, "no-such-delivery"))
	require.Equal(t, river.EventKindJobCancelled, ev.Kind)
}

func TestUnroutedDeliveryKeepsItsStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	id, job := b.ingest(t, delivery{provider: types.GitHub, event: "push", payload: fixture(t, "github/push/payload.json"), status: types.DeliveryUnrouted}, nil)
	require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind)
	require.Equal(t, types.DeliveryUnrouted, b.delivery(t, id).Status)
}

func TestOtherProviders(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	td := func(name string) []byte {
		p, err := os.ReadFile(filepath.Join("..", "transform", "testdata", name))
		require.NoError(t, err)
		return p
	}
	for _, tc := range []struct {
		provider types.Provider
		event    string
		resource string
		file     string
		sourceID string
	}{
		{types.Vercel, "deployment.succeeded", "prj_12HKQaOmR5t5Uy6vdcQsNIiZgHGB", "vercel-deployment-succeeded.json",
			"vercel:deployment:dpl_89qyp1cskzkLrVicDaZoDbjyHuDJ:succeeded"},
		{types.Linear, "Issue", "5f0c1d2e-3a4b-4c5d-9e6f-7a8b9c0d1e2f", "linear-issue-create.json",
			"linear:issue:9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d:create:2024-06-01T09:30:00.100Z"},
		{types.Sentry, "issue.created", "1", "sentry-issue-created.json", "sentry:issue:1170820242:created"},
		{types.Sentry, "event_alert", "1", "sentry-event_alert-triggered.json",
			"sentry:event_alert:dd37e2f5d7a845a29a8bb6b7e2a0cbc3:Checkout errors to #oncall"},
	} {
		tn := b.tenant(t, tc.provider)
		b.integrate(t, tn, tn.workspace, tc.provider, tc.resource, nil, nil)
		id, job := b.ingest(t, delivery{provider: tc.provider, event: tc.event, installation: tn.installation, resource: tc.resource, payload: td(tc.file)}, nil)
		require.Equal(t, river.EventKindJobCompleted, b.wait(t, job).Kind, tc.file)
		require.Equal(t, types.DeliveryDelivered, b.delivery(t, id).Status, tc.file)
		obs := b.observations(t, tn.workspace)
		require.Len(t, obs, 1, tc.file)
		require.Equal(t, tc.sourceID, obs[0].SourceID)
		require.Equal(t, tc.provider, obs[0].Provider)
	}
}
