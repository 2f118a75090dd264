package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/console/internal/transform"
	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/ids"
	"github.com/lightfastai/connections/db/integrations"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/types"
)

// maxErrorLen caps last_error; errors here name what failed, never payload bytes or secrets.
const maxErrorLen = 1000

// Group commit: jobs that arrive while a batch is being written wait and go into the next one, up to
// maxBatch per transaction and maxBatches transactions at once. Under load one transaction carries
// dozens of deliveries; alone, a job is a batch of one and waits only batchLinger. On the 2-core test
// machine this took a 50,000-delivery drain from ~700 to ~1,800 deliveries/s (scripts/bench.sh).
//
// One transaction at a time: every batch ends by adding to its integrations' document_count, so batches
// of the same integration queue on that row from their UPDATE until their commit is on disk (a WAL
// flush, ~3 ms here). Overlapping batches gained nothing but that wait, with the lock, multixact and
// HOT-chain work it brings: at 1,000 pushes/s to one repository (TestWebhooksToObservationsLoad), 8 at a
// time cost 723 µs of Postgres CPU per delivery with lag p99 6.8 s, 2 cost 382 µs / 422 ms, 1 costs
// 339 µs / 184 ms.
const (
	maxBatch   = 256
	maxBatches = 1
	// batchTimeout bounds one batch's transaction; it runs detached from any single job's context so one
	// job being cancelled does not fail the others.
	batchTimeout = 30 * time.Second
	// batchLinger is how long a new leader waits for company before writing.
	batchLinger = time.Millisecond
)

// WebhookWorker is webhook.process (SPEC §6.3): one delivery becomes observations in every active
// integration of its resource that allows the event. The observations, the delivery's new status and
// the job's completion (river.JobCompleteTx) commit in one transaction, so a retry, a rescue after a
// crash or a replay never writes a fact twice (and source ids make a second write a no-op anyway).
//
// Concurrent jobs are group-committed: several deliveries share one transaction, each with its own
// JobCompleteTx, so what holds for one holds for all of them together. A job retried after a failure is
// processed alone, so one bad delivery cannot keep failing its neighbours.
type WebhookWorker struct {
	river.WorkerDefaults[jobs.WebhookProcess]

	pool    *pgxpool.Pool
	metrics *Metrics
	log     *zap.Logger
	now     func() time.Time

	mu      sync.Mutex
	pending []*request
	slots   chan struct{}

	// beforeComplete runs inside the transaction after the writes and before the jobs are completed;
	// tests use it to crash there.
	beforeComplete func(ctx context.Context) error
}

// NewWebhookWorker returns the webhook.process worker. metrics may be nil.
func NewWebhookWorker(pool *pgxpool.Pool, metrics *Metrics, log *zap.Logger) *WebhookWorker {
	return &WebhookWorker{pool: pool, metrics: metrics, log: log, now: time.Now, slots: make(chan struct{}, maxBatches)}
}

// result is what happened to one delivery, for metrics and logs after the commit.
type result struct {
	provider   types.Provider
	event      string
	outcome    string // "" when nothing new happened (a duplicate job, an unrouted delivery)
	inserted   int
	skipped    int // integrations of the resource left out because their row could not be read
	receivedAt time.Time
}

// request is one job waiting for its batch.
type request struct {
	job  *river.Job[jobs.WebhookProcess]
	res  result
	err  error // set when this delivery failed, whether or not its batch committed
	done chan struct{}
}

// errDeliveryGone marks a job whose delivery row no longer exists (retention deleted it).
var errDeliveryGone = errors.New("delivery not found")

// Work implements river.Worker.
func (w *WebhookWorker) Work(ctx context.Context, job *river.Job[jobs.WebhookProcess]) (err error) {
	req := &request{job: job, done: make(chan struct{})}
	defer func() {
		// A panic must reach the dead-letter bookkeeping below like any other failure.
		if p := recover(); p != nil {
			err = w.failed(ctx, job, req.res, fmt.Errorf("panic: %v", p))
		}
	}()
	if job.Attempt > 1 {
		w.run(ctx, []*request{req})
	} else {
		w.combine(ctx, req)
	}
	if req.err != nil {
		return w.failed(ctx, job, req.res, req.err)
	}
	if req.res.outcome != "" {
		w.metrics.outcome(req.res.provider, req.res.event, req.res.outcome)
		w.metrics.skippedIntegrations(req.res.provider, req.res.skipped)
		if req.res.outcome == OutcomeProcessed {
			w.metrics.committed(req.res.provider, req.res.inserted, req.res.receivedAt, w.now())
		}
	}
	return nil
}

// combine queues req and waits until a batch has written it. Whoever finds a free slot writes batches
// of whatever is pending until nothing is, so no request waits without someone working for it: while
// every slot is busy, the leaders holding them drain what is pending before letting go.
func (w *WebhookWorker) combine(ctx context.Context, req *request) {
	w.mu.Lock()
	w.pending = append(w.pending, req)
	w.mu.Unlock()
	select {
	case <-req.done:
	case w.slots <- struct{}{}:
		// Jobs fetched together arrive a few microseconds apart; a moment's wait lets them share a batch.
		time.Sleep(batchLinger)
		for batch := w.take(); len(batch) > 0; batch = w.take() {
			w.run(ctx, batch)
		}
		<-w.slots
		// Pending ran dry, so req was in a batch: this one or another leader's, still being written.
		<-req.done
	}
}

func (w *WebhookWorker) take() []*request {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.pending), maxBatch)
	batch := slices.Clone(w.pending[:n])
	w.pending = slices.Delete(w.pending, 0, n)
	return batch
}

// run writes one batch in one transaction and releases its requests, whatever happens: the other jobs
// of the batch are waiting on them, even when this one panics.
func (w *WebhookWorker) run(ctx context.Context, reqs []*request) {
	var err error
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
		for _, r := range reqs {
			if err != nil && r.err == nil {
				r.err = err
			}
			close(r.done)
		}
	}()
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	defer cancel()
	err = db.WithTx(bctx, w.pool, func(tx pgx.Tx) error {
		for _, r := range reqs {
			r.res, r.err = result{}, nil
		}
		return w.batch(bctx, tx, reqs)
	})
}

// item is a delivery of the batch with the work planned for it.
type item struct {
	reqs       []*request // the jobs for this delivery (normally one)
	d          dbq.Delivery
	status     string
	reason     string // why an ignored delivery was ignored (its last_error)
	obs        []transform.Observation
	allowed    []dbq.Integration
	all        []dbq.Integration
	skipped    []integrations.Unreadable // integrations of the resource that could not be read
	configPush *transform.PushConfigChange
}

func (w *WebhookWorker) batch(ctx context.Context, tx pgx.Tx, reqs []*request) error {
	q := dbq.New(tx)
	byDelivery := map[string][]*request{}
	var deliveryIDs []string
	for _, r := range reqs {
		id := r.job.Args.DeliveryID
		if _, ok := byDelivery[id]; !ok {
			deliveryIDs = append(deliveryIDs, id)
		}
		byDelivery[id] = append(byDelivery[id], r)
	}
	rows, err := q.LockDeliveriesForProcessing(ctx, deliveryIDs)
	if err != nil {
		return fmt.Errorf("load deliveries: %w", db.Interpret(err))
	}
	var (
		items    []*item
		complete []*request // jobs to complete in this transaction
		found    = map[string]bool{}
	)
	for _, d := range rows {
		found[d.ID] = true
		rs := byDelivery[d.ID]
		for _, r := range rs {
			r.res = result{provider: d.Provider, event: transform.BaseEvent(d.EventType), receivedAt: d.ReceivedAt}
		}
		complete = append(complete, rs...)
		switch d.Status {
		case types.DeliveryDelivered, types.DeliveryIgnored, types.DeliveryUnrouted:
			// Done before (a duplicate job), or never routed: only the job is left to finish.
			continue
		}
		items = append(items, &item{reqs: rs, d: d})
	}
	for id, rs := range byDelivery {
		if !found[id] {
			for _, r := range rs {
				r.err = errDeliveryGone
			}
		}
	}

	if err := w.loadIntegrations(ctx, q, items); err != nil {
		return err
	}
	// Plan every delivery before writing anything: an unreadable payload fails its own jobs only, and
	// leaves nothing behind in the batch.
	kept := items[:0]
	for _, it := range items {
		if err := plan(it); err != nil {
			for _, r := range it.reqs {
				r.err = err
			}
			complete = slices.DeleteFunc(complete, func(r *request) bool { return r.job.Args.DeliveryID == it.d.ID })
			continue
		}
		kept = append(kept, it)
	}
	items = kept

	for _, it := range items {
		if it.configPush == nil {
			continue
		}
		changed, err := w.pushConfig(ctx, tx, q, *it.configPush, it.all)
		if err != nil {
			return err
		}
		if changed {
			it.status = types.DeliveryDelivered
		}
	}
	added, err := insertObservations(ctx, q, items)
	if err != nil {
		return err
	}
	if len(items) > 0 {
		p := dbq.SetDeliveryStatusesParams{}
		for _, it := range items {
			p.Ids, p.Statuses = append(p.Ids, it.d.ID), append(p.Statuses, it.status)
			// last_error says why an ignored delivery was ignored and which integrations were skipped
			// because their rows could not be read.
			msg := skippedError(it.skipped)
			if it.status == types.DeliveryIgnored && it.reason != "" {
				msg = strings.TrimSuffix(it.reason+"; "+msg, "; ")
			}
			p.LastErrors = append(p.LastErrors, truncate(msg, maxErrorLen))
			for i, r := range it.reqs {
				r.res.outcome = OutcomeIgnored
				if it.status == types.DeliveryDelivered {
					r.res.outcome = OutcomeProcessed
				}
				if i == 0 {
					r.res.skipped = len(it.skipped)
				} else {
					r.res.outcome = "" // a second job for the same delivery did nothing new
				}
			}
		}
		if err := q.SetDeliveryStatuses(ctx, p); err != nil {
			return fmt.Errorf("set delivery status: %w", db.Interpret(err))
		}
	}
	if w.beforeComplete != nil {
		if err := w.beforeComplete(ctx); err != nil {
			return err
		}
	}
	if err := completeJobs(ctx, tx, complete); err != nil {
		return err
	}
	// Counters last: the integration row locks are held for as short a time as possible.
	return addDocuments(ctx, q, added)
}

// completeJobs completes jobs inside tx. A single job goes through river.JobCompleteTx; a batch goes
// through the driver call JobCompleteTx itself makes (JobSetStateIfRunningMany), once for all its jobs
// rather than one round trip each.
func completeJobs(ctx context.Context, tx pgx.Tx, reqs []*request) error {
	switch len(reqs) {
	case 0:
		return nil
	case 1:
		if _, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, reqs[0].job); err != nil {
			return fmt.Errorf("complete job: %w", err)
		}
		return nil
	}
	now := time.Now().UTC()
	p := &riverdriver.JobSetStateIfRunningManyParams{}
	for _, r := range reqs {
		if r.job.State != rivertype.JobStateRunning {
			return errors.New("complete job: job must be running")
		}
		p.ID = append(p.ID, r.job.ID)
		p.Attempt = append(p.Attempt, nil)
		p.ErrData = append(p.ErrData, nil)
		p.FinalizedAt = append(p.FinalizedAt, &now)
		p.MetadataDoMerge = append(p.MetadataDoMerge, false)
		p.MetadataUpdates = append(p.MetadataUpdates, nil)
		p.ScheduledAt = append(p.ScheduledAt, nil)
		p.State = append(p.State, rivertype.JobStateCompleted)
	}
	rows, err := riverpgxv5.New(nil).UnwrapExecutor(tx).JobSetStateIfRunningMany(ctx, p)
	if err != nil {
		return fmt.Errorf("complete jobs: %w", err)
	}
	completed := 0
	for _, row := range rows {
		if row.State == rivertype.JobStateCompleted {
			completed++
		}
	}
	if completed != len(reqs) {
		// Someone else finished or rescued one of them meanwhile; retried alone, each will sort itself out.
		return fmt.Errorf("complete jobs: %d of %d were no longer running", len(reqs)-completed, len(reqs))
	}
	return nil
}

type resourceKey struct{ installation, resource string }

// loadIntegrations finds the active integrations of every routed delivery in one query. An integration
// whose row cannot be read is logged and left out: the delivery still reaches the others of its resource,
// and its last_error names the one skipped (a malformed row must not dead-letter every delivery of the
// resource, for every workspace linked to it).
func (w *WebhookWorker) loadIntegrations(ctx context.Context, q *dbq.Queries, items []*item) error {
	var installationIDs, resourceIDs []string
	seen := map[resourceKey]bool{}
	for _, it := range items {
		if it.d.InstallationID == nil || it.d.ProviderResourceID == nil {
			continue
		}
		k := resourceKey{*it.d.InstallationID, *it.d.ProviderResourceID}
		if !seen[k] {
			seen[k] = true
			installationIDs, resourceIDs = append(installationIDs, k.installation), append(resourceIDs, k.resource)
		}
	}
	if len(installationIDs) == 0 {
		return nil
	}
	rows, unreadable, err := integrations.ListActiveForResources(ctx, q, installationIDs, resourceIDs)
	if err != nil {
		return err
	}
	byKey := map[resourceKey][]dbq.Integration{}
	for _, in := range rows {
		k := resourceKey{in.InstallationID, in.ProviderResourceID}
		byKey[k] = append(byKey[k], in)
	}
	skipped := map[resourceKey][]integrations.Unreadable{}
	for _, u := range unreadable {
		w.log.Warn("integration skipped: its row cannot be read", zap.String("integration_id", u.ID),
			zap.String("workspace_id", u.WorkspaceID), zap.String("provider", string(u.Provider)), zap.Error(u.Err))
		k := resourceKey{u.InstallationID, u.ProviderResourceID}
		skipped[k] = append(skipped[k], u)
	}
	for _, it := range items {
		if it.d.InstallationID != nil && it.d.ProviderResourceID != nil {
			k := resourceKey{*it.d.InstallationID, *it.d.ProviderResourceID}
			it.all, it.skipped = byKey[k], skipped[k]
		}
	}
	return nil
}

// skippedError is the delivery's last_error when integrations were skipped ("" when none were).
func skippedError(skipped []integrations.Unreadable) string {
	var b strings.Builder
	for _, u := range skipped {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString("skipped " + u.Error())
	}
	return truncate(b.String(), maxErrorLen)
}

// truncate cuts s to at most n bytes without leaving a UTF-8 sequence split at the end.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for range utf8.UTFMax - 1 {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

// plan decides, without writing, what a delivery becomes: its status, its observations and the
// integrations that take them, and for a GitHub push the config change to apply.
func plan(it *item) error {
	d := it.d
	it.status, it.reason = types.DeliveryIgnored, reasonNoIntegration
	if len(it.all) == 0 {
		return nil
	}
	if d.Provider == types.GitHub && transform.BaseEvent(d.EventType) == "push" {
		change, err := transform.GitHubPushConfigChange(d.Payload)
		if err != nil {
			return err
		}
		if change.Touched && change.Branch != "" {
			it.configPush = &change
		}
	}
	var scope *transform.GitHubScope
	if d.Provider == types.GitHub {
		s, err := transform.GitHubDeliveryScope(d.EventType, d.Payload)
		if err != nil {
			return err
		}
		scope = &s
	}
	var reasons []string
	for _, in := range it.all {
		if why := skipReason(in.SyncConfig, d.EventType, scope); why != "" {
			reasons = append(reasons, "integration "+in.ID+": "+why)
			continue
		}
		it.allowed = append(it.allowed, in)
	}
	if len(it.allowed) == 0 {
		it.reason = ignoredBecause(reasons)
		return nil
	}
	it.reason = reasonNoObservation
	obs, err := transform.Transform(transform.Input{
		Provider: d.Provider, EventType: d.EventType, Payload: d.Payload, ReceivedAt: d.ReceivedAt,
	})
	if err != nil {
		return err
	}
	it.obs = obs
	if len(obs) > 0 {
		it.status = types.DeliveryDelivered
	}
	return nil
}

// allows reports whether sync_config lets the event through. The allow-list names events without their
// action ("pull_request", "deployment", "Issue") or with it ("deployment.succeeded").
func allows(cfg types.SyncConfig, eventType string) bool {
	return cfg.Allows(eventType) || cfg.Allows(transform.BaseEvent(eventType))
}

// insertObservations writes every planned observation in one statement and returns how many rows each
// integration gained; it also records per delivery how many were new.
func insertObservations(ctx context.Context, q *dbq.Queries, items []*item) (map[string]int, error) {
	var p dbq.InsertObservationsParams
	for _, it := range items {
		for _, in := range it.allowed {
			for _, o := range it.obs {
				actor := ""
				if o.Actor != nil {
					b, err := json.Marshal(o.Actor)
					if err != nil {
						return nil, fmt.Errorf("encode actor: %w", err)
					}
					actor = string(b)
				}
				meta, err := json.Marshal(o.Metadata)
				if err != nil {
					return nil, fmt.Errorf("encode metadata: %w", err)
				}
				p.Ids = append(p.Ids, ids.New())
				p.WorkspaceIds = append(p.WorkspaceIds, in.WorkspaceID)
				p.IntegrationIds = append(p.IntegrationIds, in.ID)
				p.Providers = append(p.Providers, string(it.d.Provider))
				p.SourceTypes = append(p.SourceTypes, o.SourceType)
				p.SourceIds = append(p.SourceIds, o.SourceID)
				p.Titles = append(p.Titles, o.Title)
				p.Bodies = append(p.Bodies, o.Body)
				p.Actors = append(p.Actors, actor)
				p.Urls = append(p.Urls, o.URL)
				p.OccurredAts = append(p.OccurredAts, o.OccurredAt)
				p.Metadatas = append(p.Metadatas, string(meta))
				p.DeliveryIds = append(p.DeliveryIds, it.d.ID)
			}
		}
	}
	added := map[string]int{}
	if len(p.Ids) == 0 {
		return added, nil
	}
	rows, err := q.InsertObservations(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("insert observations: %w", db.Interpret(err))
	}
	perDelivery := map[string]int{}
	for _, r := range rows {
		if r.IntegrationID != nil {
			added[*r.IntegrationID]++
		}
		if r.DeliveryID != nil {
			perDelivery[*r.DeliveryID]++
		}
	}
	for _, it := range items {
		if len(it.reqs) > 0 {
			it.reqs[0].res.inserted = perDelivery[it.d.ID]
		}
	}
	return added, nil
}

// addDocuments bumps document_count by the rows each integration gained, locking them in id order.
func addDocuments(ctx context.Context, q *dbq.Queries, added map[string]int) error {
	if len(added) == 0 {
		return nil
	}
	var p dbq.AddIntegrationsDocumentsParams
	for id := range added {
		p.Ids = append(p.Ids, id)
	}
	slices.Sort(p.Ids)
	for _, id := range p.Ids {
		p.Added = append(p.Added, int32(added[id]))
	}
	if err := q.LockIntegrations(ctx, p.Ids); err != nil {
		return fmt.Errorf("count documents: %w", db.Interpret(err))
	}
	if err := q.AddIntegrationsDocuments(ctx, p); err != nil {
		return fmt.Errorf("count documents: %w", db.Interpret(err))
	}
	return nil
}

// failed records a failed attempt on the delivery and returns what River should do with the job.
func (w *WebhookWorker) failed(ctx context.Context, job *river.Job[jobs.WebhookProcess], res result, err error) error {
	if errors.Is(err, errDeliveryGone) {
		return river.JobCancel(err)
	}
	// An unreadable payload stays unreadable: dead-letter it now rather than after every retry.
	permanent := errors.Is(err, transform.ErrInvalidPayload)
	dead := permanent || job.Attempt >= job.MaxAttempts
	msg := truncate(err.Error(), maxErrorLen)
	// The job's own context may be what failed (timeout, shutdown); the bookkeeping must still land.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := dbq.New(w.pool).RecordDeliveryFailure(bctx, dbq.RecordDeliveryFailureParams{
		ID: job.Args.DeliveryID, LastError: &msg, Dead: dead,
	}); rerr != nil {
		w.log.Error("record delivery failure", zap.String("delivery", job.Args.DeliveryID), zap.Error(rerr))
	}
	outcome := OutcomeFailed
	if dead {
		outcome = OutcomeDLQ
	}
	w.metrics.outcome(res.provider, res.event, outcome)
	w.log.Warn("webhook delivery failed", zap.String("delivery", job.Args.DeliveryID),
		zap.Int("attempt", job.Attempt), zap.Int("max_attempts", job.MaxAttempts), zap.Bool("dead", dead), zap.Error(err))
	if permanent {
		return river.JobCancel(err)
	}
	return err
}
