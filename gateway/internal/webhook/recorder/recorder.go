// Package recorder writes verified webhook deliveries durably: the delivery row and its River job in one
// transaction, committed before the sender gets its answer (SPEC §5.3 step 5).
//
// It commits in groups. Each commit costs Postgres a WAL flush and a fixed amount of CPU no matter how
// many rows it carries, so the deliveries of concurrent requests share one transaction: a multi-row
// INSERT … ON CONFLICT DO NOTHING RETURNING (which says which deliveries were new) plus River's batch
// insert for their jobs. While a batch commits, the deliveries that arrive queue up and become the next
// batch, so a lone request waits for nothing but its own commit (no timer), and under load batches grow
// by themselves. A failed batch fails every request in it, and none of them is acknowledged.
package recorder

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/types"
)

// ErrStopped is returned by Record after Stop.
var ErrStopped = errors.New("recorder: stopped")

// Delivery is one verified webhook to record.
type Delivery struct {
	ID             string // row id (db/ids)
	Provider       types.Provider
	DeliveryID     string
	EventType      string
	InstallationID string // empty when unrouted
	ResourceID     string // empty when the event names none
	Status         string // types.DeliveryReceived, types.DeliveryUnrouted or types.DeliveryIgnored
	LastError      string // why, for types.DeliveryIgnored; empty otherwise
	Payload        []byte
	Headers        types.Headers
	// Job is inserted with the row when the row is new; nil for no job (unrouted and ignored deliveries).
	Job river.JobArgs
}

// Outcome says what recording did.
type Outcome int

// Outcomes.
const (
	// Accepted: the row (and its job) are committed.
	Accepted Outcome = iota + 1
	// Duplicate: a delivery with the same provider and delivery id was recorded before.
	Duplicate
	// UnknownInstallation: nothing was written because the delivery's installation id names no
	// installation row (the routing cache was wrong); route it again from the database and record that.
	UnknownInstallation
)

// JobInserter inserts River jobs in a caller's transaction (river.Client satisfies it).
type JobInserter interface {
	InsertManyFastTx(ctx context.Context, tx pgx.Tx, params []river.InsertManyParams) (int, error)
}

// Config tunes the group commit. Zero values take the defaults.
type Config struct {
	// Writers is how many transactions may be in flight at once (default 1). One writer makes the
	// largest batches: everything that arrives during a commit goes into the next one. On the 2-core
	// benchmark box one writer served the same deliveries per second as two with ~15-25% less CPU per
	// delivery (batches of ~32 instead of ~16), and four were worse still.
	Writers int
	// MaxBatch caps the deliveries in one transaction (default 256).
	MaxBatch int
	// Linger is how long a writer that found the queue empty waits for more deliveries before
	// committing (default 0: commit at once; batches still form while other writers are busy).
	Linger time.Duration
	// Timeout bounds one batch's transaction (default 10 s).
	Timeout time.Duration
	// OnFlush, when set, is told the size, duration and error of every batch (metrics).
	OnFlush func(size int, elapsed time.Duration, err error)
}

// Recorder is the group-commit writer. Start it with New, stop it with Stop.
type Recorder struct {
	pool *pgxpool.Pool
	jobs JobInserter
	cfg  Config

	mu      sync.RWMutex // guards stopped against sends on a closed in
	stopped bool
	in      chan *pending
	wg      sync.WaitGroup
}

type result struct {
	outcome Outcome
	err     error
}

type pending struct {
	d    Delivery
	done chan result
}

var pendingPool = sync.Pool{New: func() any { return &pending{done: make(chan result, 1)} }}

// New starts the writers.
func New(pool *pgxpool.Pool, jobs JobInserter, cfg Config) *Recorder {
	if cfg.Writers <= 0 {
		cfg.Writers = 1
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	r := &Recorder{pool: pool, jobs: jobs, cfg: cfg, in: make(chan *pending, cfg.MaxBatch*cfg.Writers)}
	for range cfg.Writers {
		r.wg.Add(1)
		go r.write()
	}
	return r
}

// Record writes d and returns once it is committed (Accepted), found to exist already (Duplicate), or
// failed. ctx only bounds the wait for a place in the queue: once queued, the write goes ahead on the
// recorder's own context, so a sender hanging up cannot cancel a commit half-way or lose its result.
func (r *Recorder) Record(ctx context.Context, d Delivery) (Outcome, error) {
	p := pendingPool.Get().(*pending)
	p.d = d
	r.mu.RLock()
	if r.stopped {
		r.mu.RUnlock()
		pendingPool.Put(p)
		return 0, ErrStopped
	}
	select {
	case r.in <- p:
		r.mu.RUnlock()
	case <-ctx.Done():
		r.mu.RUnlock()
		pendingPool.Put(p)
		return 0, fmt.Errorf("recorder: %w", ctx.Err())
	}
	res := <-p.done
	p.d = Delivery{}
	pendingPool.Put(p)
	return res.outcome, res.err
}

// Stop refuses new deliveries, commits those already queued and waits for the writers (or ctx).
func (r *Recorder) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.stopped {
		r.stopped = true
		close(r.in)
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("recorder: stop: %w", ctx.Err())
	}
}

func (r *Recorder) write() {
	defer r.wg.Done()
	batch := make([]*pending, 0, r.cfg.MaxBatch)
	s := newScratch(r.cfg.MaxBatch)
	for first := range r.in {
		batch = append(batch[:0], first)
		batch = r.collect(batch)
		r.flush(batch, s)
		clear(batch)
	}
}

// scratch is one writer's reusable batch state. Reusing it matters: at thousands of deliveries a second
// the per-batch arrays were a large share of the allocation rate, and with it of the GC's CPU.
type scratch struct {
	params   dbq.InsertDeliveriesParams
	outcomes []Outcome
	order    []int
	first    map[string]int
	inserted map[string]struct{}
	jobs     []river.InsertManyParams
	refused  []string // installation ids of routed deliveries that were not inserted
}

func newScratch(n int) *scratch {
	return &scratch{
		params: dbq.InsertDeliveriesParams{
			Ids: make([]string, 0, n), Providers: make([]string, 0, n), DeliveryIds: make([]string, 0, n),
			EventTypes: make([]string, 0, n), InstallationIds: make([]string, 0, n), ResourceIds: make([]string, 0, n),
			Statuses: make([]string, 0, n), Payloads: make([][]byte, 0, n), Headers: make([]string, 0, n),
			LastErrors: make([]string, 0, n),
		},
		first: make(map[string]int, n), inserted: make(map[string]struct{}, n),
	}
}

// reset empties s for a batch of n, dropping references to the previous batch.
func (s *scratch) reset(n int) {
	p := &s.params
	clear(p.Payloads) // let the request buffers go
	p.Ids, p.Providers, p.DeliveryIds, p.EventTypes = p.Ids[:0], p.Providers[:0], p.DeliveryIds[:0], p.EventTypes[:0]
	p.InstallationIds, p.ResourceIds, p.Statuses, p.Payloads, p.Headers = p.InstallationIds[:0], p.ResourceIds[:0], p.Statuses[:0], p.Payloads[:0], p.Headers[:0]
	p.LastErrors = p.LastErrors[:0]
	s.outcomes = slices.Grow(s.outcomes[:0], n)[:n]
	clear(s.outcomes)
	s.order = slices.Grow(s.order[:0], n)[:n]
	clear(s.first)
	clear(s.inserted)
	clear(s.jobs)
	s.jobs = s.jobs[:0]
	s.refused = s.refused[:0]
}

// collect adds whatever is already queued, then, with a Linger, waits that long for more.
func (r *Recorder) collect(batch []*pending) []*pending {
	for len(batch) < r.cfg.MaxBatch {
		select {
		case p, ok := <-r.in:
			if !ok {
				return batch
			}
			batch = append(batch, p)
			continue
		default:
		}
		break
	}
	if r.cfg.Linger <= 0 || len(batch) >= r.cfg.MaxBatch {
		return batch
	}
	timer := time.NewTimer(r.cfg.Linger)
	defer timer.Stop()
	for len(batch) < r.cfg.MaxBatch {
		select {
		case p, ok := <-r.in:
			if !ok {
				return batch
			}
			batch = append(batch, p)
		case <-timer.C:
			return batch
		}
	}
	return batch
}

// flush commits one batch and answers every request in it.
func (r *Recorder) flush(batch []*pending, s *scratch) {
	start := time.Now()
	outcomes, err := r.commit(batch, s)
	if r.cfg.OnFlush != nil {
		r.cfg.OnFlush(len(batch), time.Since(start), err)
	}
	for i, p := range batch {
		if err != nil {
			p.done <- result{err: err}
		} else {
			p.done <- result{outcome: outcomes[i]}
		}
	}
}

func (r *Recorder) commit(batch []*pending, s *scratch) ([]Outcome, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	s.reset(len(batch))
	outcomes, params := s.outcomes, &s.params

	// Rows go in (provider, delivery_id) order: two batches that share deliveries then take their
	// unique-index locks in the same order and cannot deadlock.
	for i := range s.order {
		s.order[i] = i
	}
	slices.SortFunc(s.order, func(a, b int) int {
		return cmp.Or(cmp.Compare(batch[a].d.Provider, batch[b].d.Provider), cmp.Compare(batch[a].d.DeliveryID, batch[b].d.DeliveryID))
	})
	for _, i := range s.order {
		d := &batch[i].d
		// The same delivery can arrive twice in one batch (a provider retrying over two connections);
		// the statement would skip the second anyway, but answering it here keeps the arrays small.
		key := string(d.Provider) + "\x00" + d.DeliveryID
		if _, dup := s.first[key]; dup {
			outcomes[i] = Duplicate
			continue
		}
		s.first[key] = i
		headers, err := d.Headers.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("record deliveries: headers: %w", err)
		}
		params.Ids = append(params.Ids, d.ID)
		params.Providers = append(params.Providers, string(d.Provider))
		params.DeliveryIds = append(params.DeliveryIds, d.DeliveryID)
		params.EventTypes = append(params.EventTypes, d.EventType)
		params.InstallationIds = append(params.InstallationIds, d.InstallationID)
		params.ResourceIds = append(params.ResourceIds, d.ResourceID)
		params.Statuses = append(params.Statuses, d.Status)
		params.Payloads = append(params.Payloads, d.Payload)
		params.Headers = append(params.Headers, string(headers))
		params.LastErrors = append(params.LastErrors, d.LastError)
	}

	err := db.WithTx(ctx, r.pool, func(tx pgx.Tx) error {
		ids, err := dbq.New(tx).InsertDeliveries(ctx, *params)
		if err != nil {
			return fmt.Errorf("insert deliveries: %w", db.Interpret(err))
		}
		for _, id := range ids {
			s.inserted[id] = struct{}{}
		}
		if err := r.unknownInstallations(ctx, tx, batch, s); err != nil {
			return err
		}
		for i, p := range batch {
			if outcomes[i] == Duplicate || outcomes[i] == UnknownInstallation {
				continue
			}
			if _, ok := s.inserted[p.d.ID]; !ok {
				outcomes[i] = Duplicate
				continue
			}
			outcomes[i] = Accepted
			if p.d.Job != nil {
				s.jobs = append(s.jobs, river.InsertManyParams{Args: p.d.Job})
			}
		}
		if len(s.jobs) > 0 {
			if _, err := r.jobs.InsertManyFastTx(ctx, tx, s.jobs); err != nil {
				return fmt.Errorf("insert jobs: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record deliveries: %w", err)
	}
	return outcomes, nil
}

// unknownInstallations marks UnknownInstallation the deliveries the insert refused for naming an
// installation id without a row. Only routed deliveries that were not inserted are asked about, so a
// batch of new deliveries (the common case) costs no query here.
func (r *Recorder) unknownInstallations(ctx context.Context, tx pgx.Tx, batch []*pending, s *scratch) error {
	for i, p := range batch {
		if _, ok := s.inserted[p.d.ID]; !ok && s.outcomes[i] != Duplicate && p.d.InstallationID != "" {
			s.refused = append(s.refused, p.d.InstallationID)
		}
	}
	if len(s.refused) == 0 {
		return nil
	}
	unknown, err := dbq.New(tx).ListUnknownInstallationIDs(ctx, s.refused)
	if err != nil {
		return fmt.Errorf("check installations: %w", db.Interpret(err))
	}
	for i, p := range batch {
		if s.outcomes[i] != Duplicate && slices.Contains(unknown, p.d.InstallationID) {
			s.outcomes[i] = UnknownInstallation
		}
	}
	return nil
}
