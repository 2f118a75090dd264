// Package lifecycle is the webhook.lifecycle worker (SPEC §5.3 point 6): installation and repository
// lifecycle deliveries change the gateway's own state — installations, their resources, the workspace
// integrations linked to them and the routing cache — instead of becoming observations.
//
// Each job applies one delivery and marks it delivered (or ignored, when the event changes nothing) in
// one transaction, so a retry after a crash re-applies nothing twice. Cache changes follow the commit.
// After the last attempt the delivery becomes dlq with its error, for the admin replay.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/lightfastai/connections/db"
	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/integrations"
	"github.com/lightfastai/connections/db/jobs"
	"github.com/lightfastai/connections/db/routing"
	"github.com/lightfastai/connections/db/teardown"
	"github.com/lightfastai/connections/db/types"
)

// Register adds the lifecycle worker.
func Register(workers *river.Workers, pool *pgxpool.Pool, routes *routing.Cache, log *zap.Logger) {
	river.AddWorker(workers, NewWorker(pool, routes, log))
}

// Worker runs jobs.WebhookLifecycle.
type Worker struct {
	river.WorkerDefaults[jobs.WebhookLifecycle]
	pool   *pgxpool.Pool
	routes *routing.Cache
	log    *zap.Logger
}

// NewWorker returns the worker.
func NewWorker(pool *pgxpool.Pool, routes *routing.Cache, log *zap.Logger) *Worker {
	return &Worker{pool: pool, routes: routes, log: log}
}

// errDeliveryGone: the job's delivery no longer exists (retention or a manual delete).
var errDeliveryGone = errors.New("lifecycle: delivery not found")

// cacheOp is a routing-cache change to make once the transaction has committed.
type cacheOp func(ctx context.Context, c *routing.Cache)

// Work applies one lifecycle delivery.
func (w *Worker) Work(ctx context.Context, job *river.Job[jobs.WebhookLifecycle]) error {
	var ops []cacheOp
	err := db.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		q := dbq.New(tx)
		d, err := q.GetDelivery(ctx, job.Args.DeliveryID)
		if db.IsNotFound(db.Interpret(err)) {
			return errDeliveryGone
		}
		if err != nil {
			return fmt.Errorf("load delivery: %w", err)
		}
		if d.Status == types.DeliveryDelivered || d.Status == types.DeliveryIgnored {
			return nil // applied by an earlier attempt that committed
		}
		if d.InstallationID == nil {
			return setStatus(ctx, q, d.ID, types.DeliveryIgnored)
		}
		ops, err = apply(ctx, tx, d, w.log)
		if err != nil {
			return err
		}
		status := types.DeliveryDelivered
		if len(ops) == 0 {
			status = types.DeliveryIgnored
		}
		return setStatus(ctx, q, d.ID, status)
	})
	if err != nil {
		if errors.Is(err, errDeliveryGone) {
			return river.JobCancel(err) // nothing can ever apply it
		}
		if job.Attempt >= job.MaxAttempts {
			w.deadLetter(ctx, job.Args.DeliveryID, err)
		}
		return err
	}
	for _, op := range ops {
		op(ctx, w.routes)
	}
	return nil
}

func setStatus(ctx context.Context, q *dbq.Queries, id, status string) error {
	if err := q.SetDeliveryStatus(ctx, dbq.SetDeliveryStatusParams{ID: id, Status: status}); err != nil {
		return fmt.Errorf("set delivery status: %w", db.Interpret(err))
	}
	return nil
}

// deadLetter records the final failure. It runs outside the failed transaction, on a context that
// outlives the job's (which may be the reason it failed).
func (w *Worker) deadLetter(ctx context.Context, id string, cause error) {
	msg := cause.Error()
	err := dbq.New(w.pool).SetDeliveryStatus(context.WithoutCancel(ctx), dbq.SetDeliveryStatusParams{ID: id, Status: types.DeliveryDLQ, LastError: &msg})
	if err != nil {
		w.log.Error("dead-letter lifecycle delivery", zap.String("delivery_id", id), zap.Error(err))
	}
}

// apply changes the database for one delivery and returns the cache changes to make after commit; no
// changes means the event needed nothing.
func apply(ctx context.Context, tx pgx.Tx, d dbq.Delivery, log *zap.Logger) ([]cacheOp, error) {
	body := gjson.ParseBytes(d.Payload)
	installationID := *d.InstallationID
	switch d.Provider {
	case types.GitHub:
		switch d.EventType {
		case "installation.deleted":
			return revoke(ctx, tx, d.Provider, installationID)
		case "installation.suspend":
			return suspend(ctx, tx, installationID, true)
		case "installation.unsuspend":
			return suspend(ctx, tx, installationID, false)
		case "installation.new_permissions_accepted":
			return permissionsAccepted(ctx, tx, installationID, body.Get("installation"))
		case "installation_repositories.added":
			return reposAdded(ctx, tx, installationID, body.Get("repositories_added").Array())
		case "installation_repositories.removed":
			return reposRemoved(ctx, tx, installationID, body.Get("repositories_removed").Array())
		case "repository.deleted":
			return reposRemoved(ctx, tx, installationID, []gjson.Result{body.Get("repository")})
		case "repository.renamed", "repository.archived", "repository.unarchived", "repository.privatized",
			"repository.publicized", "repository.edited", "repository.transferred":
			return repoChanged(ctx, tx, installationID, body.Get("repository"), log)
		}
	case types.Vercel:
		if d.EventType == "integration-configuration.removed" || d.EventType == "integration-configuration-removed" {
			return revoke(ctx, tx, d.Provider, installationID)
		}
	case types.Sentry:
		if d.EventType == "installation.deleted" {
			return revoke(ctx, tx, d.Provider, installationID)
		}
	}
	return nil, nil
}

// revoke: the app was uninstalled at the provider. Same teardown as a disconnect.
func revoke(ctx context.Context, tx pgx.Tx, p types.Provider, installationID string) ([]cacheOp, error) {
	res, err := teardown.Revoke(ctx, tx, p, installationID, teardown.ReasonUninstalled)
	if err != nil {
		return nil, err
	}
	return []cacheOp{func(ctx context.Context, c *routing.Cache) { teardown.DropRoutes(ctx, c, res) }}, nil
}

// suspend marks a suspended GitHub installation as errored (it can mint no tokens and receives no
// events) and routes nothing to it; unsuspending restores both. Integrations keep their state.
func suspend(ctx context.Context, tx pgx.Tx, installationID string, suspended bool) ([]cacheOp, error) {
	q := dbq.New(tx)
	status, reason := "active", (*string)(nil)
	if suspended {
		r := "suspended"
		status, reason = "error", &r
	}
	inst, err := q.GetInstallation(ctx, installationID)
	if err != nil {
		return nil, fmt.Errorf("suspend: %w", db.Interpret(err))
	}
	if inst.Status == "revoked" {
		return nil, nil // an uninstalled installation stays uninstalled
	}
	if _, err := q.SetInstallationStatus(ctx, dbq.SetInstallationStatusParams{ID: installationID, Status: status, StatusReason: reason}); err != nil {
		return nil, fmt.Errorf("suspend: %w", db.Interpret(err))
	}
	if suspended {
		return []cacheOp{func(ctx context.Context, c *routing.Cache) { c.DropInstallation(ctx, inst.Provider, inst.ExternalID) }}, nil
	}
	return []cacheOp{func(ctx context.Context, c *routing.Cache) {
		c.PutInstallation(ctx, inst.Provider, inst.ExternalID, inst.ID)
	}}, nil
}

// Bounds on the permissions an event may write (GitHub has a few dozen).
const (
	maxPermissions     = 100
	maxPermissionBytes = 64
)

// permissionsAccepted: the account accepted the App's new permissions. The installation's entry in
// provider_account_info takes the permissions the event lists, and lastValidatedAt moves to now. An
// event without permissions, or for an installation the connection does not list, changes nothing.
func permissionsAccepted(ctx context.Context, tx pgx.Tx, installationID string, ghInst gjson.Result) ([]cacheOp, error) {
	perms := ghInst.Get("permissions")
	ghID := ghInst.Get("id").String()
	if !perms.IsObject() || ghID == "" {
		return nil, nil
	}
	granted := map[string]string{}
	var bad bool
	perms.ForEach(func(k, v gjson.Result) bool {
		if len(granted) >= maxPermissions || len(k.Str) > maxPermissionBytes || len(v.Str) > maxPermissionBytes || v.Type != gjson.String {
			bad = true
			return false
		}
		granted[k.Str] = v.Str
		return true
	})
	if bad {
		return nil, fmt.Errorf("permissions accepted: the installation's permissions are not a small map of strings")
	}
	q := dbq.New(tx)
	inst, err := q.GetInstallation(ctx, installationID)
	if err != nil {
		return nil, fmt.Errorf("permissions accepted: %w", db.Interpret(err))
	}
	if inst.ProviderAccountInfo == nil || inst.ProviderAccountInfo.GitHub == nil {
		return nil, nil
	}
	info := *inst.ProviderAccountInfo.GitHub
	info.Installations = slices.Clone(info.Installations)
	found := false
	now := time.Now().UTC()
	for i := range info.Installations {
		// Compared as decimal text, whichever Go type holds the id.
		if fmt.Sprint(info.Installations[i].ID) == ghID {
			info.Installations[i].Permissions, info.Installations[i].LastValidatedAt = granted, &now
			found = true
		}
	}
	if !found {
		return nil, nil
	}
	if _, err := q.SetInstallationAccountInfo(ctx, dbq.SetInstallationAccountInfoParams{ID: inst.ID, ProviderAccountInfo: types.NewGitHubAccountInfo(info)}); err != nil {
		return nil, fmt.Errorf("permissions accepted: %w", db.Interpret(err))
	}
	return []cacheOp{func(context.Context, *routing.Cache) {}}, nil // routes are unchanged
}

// reposAdded reactivates resources that were linked before and removed from the installation's access;
// repositories never linked to a workspace need no resource row.
func reposAdded(ctx context.Context, tx pgx.Tx, installationID string, repos []gjson.Result) ([]cacheOp, error) {
	q := dbq.New(tx)
	known, err := q.ListResourcesByInstallation(ctx, installationID)
	if err != nil {
		return nil, fmt.Errorf("repositories added: %w", db.Interpret(err))
	}
	linked := make(map[string]bool, len(known))
	for _, r := range known {
		linked[r.ProviderResourceID] = true
	}
	var ops []cacheOp
	for _, repo := range repos {
		id := repo.Get("id").Raw
		if !linked[id] {
			continue
		}
		if err := q.SetResourceStatus(ctx, dbq.SetResourceStatusParams{InstallationID: installationID, ProviderResourceID: id, Status: "active"}); err != nil {
			return nil, fmt.Errorf("repositories added: %w", db.Interpret(err))
		}
		if name := repo.Get("full_name").Str; name != "" {
			if err := q.RenameResource(ctx, dbq.RenameResourceParams{InstallationID: installationID, ProviderResourceID: id, ResourceName: &name}); err != nil {
				return nil, fmt.Errorf("repositories added: %w", db.Interpret(err))
			}
		}
		ops = append(ops, func(ctx context.Context, c *routing.Cache) { c.PutResource(ctx, types.GitHub, id, installationID) })
	}
	return ops, nil
}

// reposRemoved: the installation lost access to repositories (or they were deleted): their resources
// are removed, the integrations on them deactivated and their routes dropped.
func reposRemoved(ctx context.Context, tx pgx.Tx, installationID string, repos []gjson.Result) ([]cacheOp, error) {
	q := dbq.New(tx)
	var ops []cacheOp
	for _, repo := range repos {
		id := repo.Get("id").Raw
		if id == "" {
			continue
		}
		if err := q.SetResourceStatus(ctx, dbq.SetResourceStatusParams{InstallationID: installationID, ProviderResourceID: id, Status: "removed"}); err != nil {
			return nil, fmt.Errorf("repositories removed: %w", db.Interpret(err))
		}
		if _, err := q.DeactivateIntegrationsForResource(ctx, dbq.DeactivateIntegrationsForResourceParams{InstallationID: installationID, ProviderResourceID: id}); err != nil {
			return nil, fmt.Errorf("repositories removed: %w", db.Interpret(err))
		}
		ops = append(ops, func(ctx context.Context, c *routing.Cache) { c.DropResource(ctx, types.GitHub, id) })
	}
	return ops, nil
}

// repoChanged refreshes the resource name and the integrations' resource_meta from the repository
// object the event carries (renames, archiving, visibility, default branch). An integration whose row
// cannot be read is logged and left as it is; the others are refreshed.
func repoChanged(ctx context.Context, tx pgx.Tx, installationID string, repo gjson.Result, log *zap.Logger) ([]cacheOp, error) {
	q := dbq.New(tx)
	id := repo.Get("id").Raw
	if id == "" {
		return nil, nil
	}
	fullName := repo.Get("full_name").Str
	if fullName != "" {
		if err := q.RenameResource(ctx, dbq.RenameResourceParams{InstallationID: installationID, ProviderResourceID: id, ResourceName: &fullName}); err != nil {
			return nil, fmt.Errorf("repository changed: %w", db.Interpret(err))
		}
	}
	linked, unreadable, err := integrations.ListForResource(ctx, q, installationID, id)
	if err != nil {
		return nil, fmt.Errorf("repository changed: %w", err)
	}
	for _, u := range unreadable {
		log.Warn("integration not refreshed: its row cannot be read", zap.String("integration_id", u.ID), zap.Error(u.Err))
	}
	for _, in := range linked {
		meta := in.ResourceMeta
		if meta == nil || meta.GitHub == nil {
			meta = types.NewGitHubResourceMeta(types.GitHubResourceMeta{RepoID: repo.Get("id").Int()})
		}
		gh := *meta.GitHub
		if fullName != "" {
			gh.RepoFullName = fullName
		}
		if name := repo.Get("name").Str; name != "" {
			gh.RepoName = name
		}
		if branch := repo.Get("default_branch").Str; branch != "" {
			gh.DefaultBranch = branch
		}
		if v := repo.Get("private"); v.Exists() {
			gh.IsPrivate = v.Bool()
		}
		if v := repo.Get("archived"); v.Exists() {
			gh.IsArchived = v.Bool()
		}
		name := in.ResourceName
		if fullName != "" {
			name = fullName
		}
		if err := q.SetIntegrationResource(ctx, dbq.SetIntegrationResourceParams{ID: in.ID, ResourceName: name, ResourceMeta: types.NewGitHubResourceMeta(gh)}); err != nil {
			return nil, fmt.Errorf("repository changed: %w", db.Interpret(err))
		}
	}
	// Routes are by id, which a rename does not change; the op only marks the delivery as applied.
	return []cacheOp{func(context.Context, *routing.Cache) {}}, nil
}
