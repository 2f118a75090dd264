package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// jobService implements JobService over River's own job table. River's job rows carry no organisation:
// a job is the caller's when its arguments name one of the caller's integrations (backfill.run,
// sync.config) or a delivery of one of the caller's connections (webhook.process). Lists are filtered
// by the ids of the workspace's integrations, read org-scoped first; RestartJob follows the job's
// arguments back to the org.
type jobService struct{ *server }

const (
	defaultJobPage = 50
	maxJobPage     = 200
	maxJobErrorLen = 1000
)

var jobKinds = map[string]consolev1.JobKind{
	jobs.BackfillRun{}.Kind():    consolev1.JobKind_JOB_KIND_BACKFILL,
	jobs.SyncConfig{}.Kind():     consolev1.JobKind_JOB_KIND_SYNC,
	jobs.WebhookProcess{}.Kind(): consolev1.JobKind_JOB_KIND_WEBHOOK,
}

var jobStates = map[rivertype.JobState]consolev1.JobState{
	rivertype.JobStateAvailable: consolev1.JobState_JOB_STATE_AVAILABLE,
	rivertype.JobStateScheduled: consolev1.JobState_JOB_STATE_SCHEDULED,
	rivertype.JobStateRunning:   consolev1.JobState_JOB_STATE_RUNNING,
	rivertype.JobStateRetryable: consolev1.JobState_JOB_STATE_RETRYABLE,
	rivertype.JobStateCompleted: consolev1.JobState_JOB_STATE_COMPLETED,
	rivertype.JobStateCancelled: consolev1.JobState_JOB_STATE_CANCELLED,
	rivertype.JobStateDiscarded: consolev1.JobState_JOB_STATE_DISCARDED,
	rivertype.JobStatePending:   consolev1.JobState_JOB_STATE_PENDING,
}

// jobScopeSQL selects the jobs of a set of integrations; @integration_ids comes from the database
// (org-scoped), never from the request. River appends it to its list query's WHERE clause.
const jobScopeSQL = `(
	(kind IN ('backfill.run', 'sync.config') AND args->>'integrationId' = ANY(@integration_ids::text[]))
	OR (kind = 'webhook.process' AND EXISTS (
		SELECT 1 FROM lightfast_gw_webhook_deliveries d
		JOIN lightfast_workspace_integrations wi
		  ON wi.installation_id = d.installation_id AND wi.provider_resource_id = d.provider_resource_id
		WHERE d.id = args->>'deliveryId' AND wi.id = ANY(@integration_ids::text[])))
)`

func (s jobService) ListJobs(ctx context.Context, req *connect.Request[consolev1.ListJobsRequest]) (*connect.Response[consolev1.ListJobsResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	size := int(m.GetPageSize())
	switch {
	case size < 0 || size > maxJobPage:
		return nil, errInvalid("page_size must be between 0 and %d", maxJobPage)
	case size == 0:
		size = defaultJobPage
	}
	var before int64
	if c := m.GetCursor(); c != "" {
		if before, err = strconv.ParseInt(c, 10, 64); err != nil || before <= 0 {
			return nil, errInvalid("cursor is not one this server returned")
		}
	}
	var state rivertype.JobState
	if m.GetState() != consolev1.JobState_JOB_STATE_UNSPECIFIED {
		for k, v := range jobStates {
			if v == m.GetState() {
				state = k
			}
		}
		if state == "" {
			return nil, errInvalid("unknown state %v", m.GetState())
		}
	}
	ws, err := s.workspaceForOrg(ctx, p.OrgID, m.GetWorkspaceId())
	if err != nil {
		return nil, err
	}
	integrations, err := s.q().ListIntegrationsByWorkspace(ctx, ws.ID)
	if err != nil {
		return nil, err
	}
	var scope []string
	for _, in := range integrations {
		if id := m.GetIntegrationId(); id == "" || id == in.ID {
			scope = append(scope, in.ID)
		}
	}
	if m.GetIntegrationId() != "" && len(scope) == 0 {
		return nil, errNotFound("integration")
	}
	out := &consolev1.ListJobsResponse{Jobs: []*consolev1.Job{}}
	if len(scope) == 0 {
		return connect.NewResponse(out), nil
	}
	params := river.NewJobListParams().
		Kinds(jobs.BackfillRun{}.Kind(), jobs.SyncConfig{}.Kind(), jobs.WebhookProcess{}.Kind()).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).
		First(size+1).
		Where(jobScopeSQL, river.NamedArgs{"integration_ids": scope})
	if state != "" {
		params = params.States(state)
	}
	if before > 0 {
		params = params.Where("id < @before_id", river.NamedArgs{"before_id": before})
	}
	res, err := s.River.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	rows := res.Jobs
	if len(rows) > size {
		rows = rows[:size]
		out.NextCursor = strconv.FormatInt(rows[size-1].ID, 10)
	}
	for _, j := range rows {
		out.Jobs = append(out.Jobs, jobMsg(j))
	}
	return connect.NewResponse(out), nil
}

func (s jobService) RestartJob(ctx context.Context, req *connect.Request[consolev1.RestartJobRequest]) (*connect.Response[consolev1.RestartJobResponse], error) {
	p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	id := req.Msg.GetJobId()
	if id <= 0 {
		return nil, errInvalid("job_id is required")
	}
	var restarted *rivertype.JobRow
	err = db.WithTx(ctx, s.Pool, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		job, err := s.River.JobGetTx(ctx, tx, id)
		if errors.Is(err, river.ErrNotFound) {
			return errNotFound("job")
		}
		if err != nil {
			return fmt.Errorf("get job: %w", err)
		}
		integrationID, err := s.jobInOrg(ctx, q, p.OrgID, job)
		if err != nil {
			return err
		}
		if job.State != rivertype.JobStateDiscarded && job.State != rivertype.JobStateCancelled {
			return errPrecondition("job %d is %s; only a failed (discarded) or cancelled job can be restarted", job.ID, job.State)
		}
		if job.Kind == (jobs.BackfillRun{}).Kind() {
			if err := reopenBackfill(ctx, q, p.OrgID, integrationID, job.ID); err != nil {
				return err
			}
		}
		restarted, err = s.River.JobRetryTx(ctx, tx, job.ID)
		if err != nil {
			return fmt.Errorf("retry job: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&consolev1.RestartJobResponse{Job: jobMsg(restarted)}), nil
}

// jobInOrg checks that job works for the caller's org and returns the integration it names (backfill
// and sync jobs). Any other job, or one whose integration or delivery is gone, is NotFound.
func (s jobService) jobInOrg(ctx context.Context, q *dbq.Queries, org string, job *rivertype.JobRow) (string, error) {
	var args struct {
		IntegrationID string `json:"integrationId"`
		DeliveryID    string `json:"deliveryId"`
	}
	if _, ok := jobKinds[job.Kind]; !ok || json.Unmarshal(job.EncodedArgs, &args) != nil {
		return "", errNotFound("job")
	}
	if job.Kind == (jobs.WebhookProcess{}).Kind() {
		d, err := q.GetDelivery(ctx, args.DeliveryID)
		if db.IsNotFound(err) || (err == nil && d.InstallationID == nil) {
			return "", errNotFound("job")
		}
		if err != nil {
			return "", err
		}
		_, err = q.GetInstallationForOrg(ctx, dbq.GetInstallationForOrgParams{ID: *d.InstallationID, OrgID: org})
		if db.IsNotFound(err) {
			return "", errNotFound("job")
		}
		return "", err
	}
	_, err := q.GetIntegrationForOrg(ctx, dbq.GetIntegrationForOrgParams{ID: args.IntegrationID, ClerkOrgID: org})
	if db.IsNotFound(err) {
		return "", errNotFound("job")
	}
	return args.IntegrationID, err
}

// reopenBackfill puts an integration's ended backfill back to pending for job jobID, keeping its
// checkpoint and progress, so the restarted job resumes where it stopped. A job that a newer backfill
// replaced would do nothing, so it is refused.
func reopenBackfill(ctx context.Context, q *dbq.Queries, org, integrationID string, jobID int64) error {
	in, err := q.LockIntegrationForBackfill(ctx, dbq.LockIntegrationForBackfillParams{ID: integrationID, ClerkOrgID: org})
	if db.IsNotFound(err) {
		return errNotFound("job")
	}
	if err != nil {
		return err
	}
	st := in.BackfillState
	if st.JobID != jobID {
		return errPrecondition("a newer backfill has replaced job %d; start a new backfill instead", jobID)
	}
	if !in.IsActive {
		return errPrecondition("the integration was unlinked; link it again to backfill it")
	}
	st.Status, st.Error, st.CompletedAt = types.BackfillPending, "", nil
	return q.SetBackfillState(ctx, dbq.SetBackfillStateParams{ID: in.ID, BackfillState: st})
}

func jobMsg(j *rivertype.JobRow) *consolev1.Job {
	m := &consolev1.Job{
		Id: j.ID, Kind: jobKinds[j.Kind], State: jobStates[j.State],
		Attempt: int32(j.Attempt), MaxAttempts: int32(j.MaxAttempts),
		CreatedAt: ts(&j.CreatedAt), AttemptedAt: ts(j.AttemptedAt), FinalizedAt: ts(j.FinalizedAt),
	}
	if n := len(j.Errors); n > 0 {
		m.LastError = truncateUTF8(j.Errors[n-1].Error, maxJobErrorLen)
	}
	var args struct {
		IntegrationID string `json:"integrationId"`
		DeliveryID    string `json:"deliveryId"`
	}
	if json.Unmarshal(j.EncodedArgs, &args) == nil {
		m.IntegrationId, m.DeliveryId = args.IntegrationID, args.DeliveryID
	}
	return m
}

// truncateUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
