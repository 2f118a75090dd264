package pages

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/lightfastai/connections/db/types"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// linkPageSize is how many linkable resources a connection lists; the rest are reachable through the API.
const linkPageSize = 100

// observationsPageSize is how many observations the sources page shows at a time.
const observationsPageSize = 10

// jobsShown is how many of an integration's latest jobs its details list.
const jobsShown = 5

// maxCursorLen bounds the observation cursor taken from the query string before it reaches the API.
const maxCursorLen = 512

// notices are the confirmations the sources page shows after an action reloads it (?notice=word). Only
// these fixed sentences are ever shown: the query string selects one, it never supplies text.
var notices = map[string]string{
	"connected":    "Connected.",
	"linked":       "Linked.",
	"unlinked":     "Unlinked.",
	"disconnected": "Disconnected.",
	"saved":        "Sync settings saved.",
	"restarted":    "Job restarted.",
	"validated":    "GitHub installation checked.",
}

type sourcesData struct {
	Workspace    *consolev1.Workspace
	Providers    []providerView
	Observations observationsView
}

type providerView struct {
	providerInfo
	Connections  []connectionView
	Integrations []integrationView
}

type connectionView struct {
	InstallationID string
	ExternalID     string
	Account        string
	Status         string
	StatusReason   string
	ConnectedAt    time.Time
	Active         bool
	// Broken is a connection in error (e.g. reauth_required): the page offers Reconnect.
	Broken bool
	// Validate offers ValidateInstallations (GitHub).
	Validate bool
	// Linkable are the connection's resources, for the link form; LinkableError says why they are missing.
	Linkable      []resourceView
	LinkableMore  bool
	LinkableError string
}

type resourceView struct {
	ID   string
	Name string
	// JSON is the resource message in Connect's JSON form, sent back as is by the link form.
	JSON   string
	Linked bool
}

type integrationView struct {
	ID             string
	InstallationID string
	ResourceID     string
	// Name is the resource as the link picker names it; Qualifier tells apart two that share a name.
	Name          string
	Qualifier     string
	altName       string // the qualifier, used only when the name is shared
	Active        bool
	Backfill      string // idle, pending, running, completed, failed, cancelled
	Processed     int32
	Total         *int32
	BackfillError string
	Documents     int32
	LastEvent     time.Time
	Settings      settingsView
	Jobs          []jobView
	JobsError     string
	// Unreadable says why the integration's stored settings cannot be read (empty when they can).
	Unreadable string
}

// DisplayName is the name with its qualifier, when it needs one.
func (iv integrationView) DisplayName() string {
	if iv.Qualifier == "" {
		return iv.Name
	}
	return iv.Name + " (" + iv.Qualifier + ")"
}

// BackfillBusy says a backfill is queued or running: it can be cancelled, not started.
func (iv integrationView) BackfillBusy() bool {
	return iv.Backfill == "pending" || iv.Backfill == "running"
}

// settingsView is an integration's sync_config as its in-place form shows it.
type settingsView struct {
	Events   []eventChoice
	GitHub   bool // branches and paths apply to GitHub only
	Branches string
	Paths    string
	AutoSync bool
}

type eventChoice struct {
	Name    string
	Checked bool
}

type jobView struct {
	ID        int64
	Kind      string
	State     string
	Attempt   int32
	Max       int32
	LastError string
	CreatedAt time.Time
	// Restartable is a failed (discarded) or cancelled job.
	Restartable bool
}

type observationsView struct {
	Items []observationView
	// Provider is the filter in force ("" for all); Next is the cursor of the following page.
	Provider string
	Next     string
	Paged    bool // this is not the first page
	Choices  []providerInfo
}

type observationView struct {
	Provider   string
	SourceType string
	Title      string
	URL        string
	OccurredAt time.Time
}

// sources is a workspace's sources page: per provider, the organisation's connections with Connect,
// Reconnect and Disconnect, the workspace's linked resources with their settings, backfill and jobs, a
// form to link more, and the workspace's observations, filtered by provider and paged.
func (p *Pages) sources(c echo.Context) error {
	ctx, pr, ok, err := p.session(c)
	if !ok {
		return err
	}
	filter := c.QueryParam("provider")
	if _, known := providerByName[filter]; filter != "" && !known {
		return p.fail(c, connect.NewError(connect.CodeInvalidArgument, errors.New("unknown provider filter")))
	}
	cursor := c.QueryParam("cursor")
	if len(cursor) > maxCursorLen {
		return p.fail(c, connect.NewError(connect.CodeInvalidArgument, errors.New("the page cursor is too long")))
	}
	ws, err := p.svc.Workspaces.GetWorkspace(ctx, connect.NewRequest(&consolev1.GetWorkspaceRequest{
		Workspace: &consolev1.GetWorkspaceRequest_WorkspaceId{WorkspaceId: c.Param("id")},
	}))
	if err != nil {
		return p.fail(c, err)
	}
	workspace := ws.Msg.GetWorkspace()
	conns, err := p.svc.Connections.ListConnections(ctx, connect.NewRequest(&consolev1.ListConnectionsRequest{}))
	if err != nil {
		return p.fail(c, err)
	}
	srcs, err := p.svc.Integrations.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: workspace.GetId()}))
	if err != nil {
		return p.fail(c, err)
	}
	obsReq := &consolev1.ListObservationsRequest{WorkspaceId: workspace.GetId(), PageSize: observationsPageSize, Cursor: cursor}
	if filter != "" {
		obsReq.Provider = providerByName[filter].proto
	}
	obs, err := p.svc.Observations.ListObservations(ctx, connect.NewRequest(obsReq))
	if err != nil {
		return p.fail(c, err)
	}

	data := sourcesData{Workspace: workspace}
	linked := map[string]bool{} // installation id + "/" + resource id of active integrations
	byProvider := map[consolev1.Provider]*providerView{}
	for _, info := range providers {
		data.Providers = append(data.Providers, providerView{providerInfo: info})
	}
	for i := range data.Providers {
		byProvider[data.Providers[i].proto] = &data.Providers[i]
	}
	for _, in := range srcs.Msg.GetIntegrations() {
		pv := byProvider[in.GetProvider()]
		if pv == nil {
			continue
		}
		iv, err := p.integrationView(ctx, c, workspace.GetId(), in)
		if err != nil {
			return p.fail(c, err)
		}
		pv.Integrations = append(pv.Integrations, iv)
		if in.GetIsActive() {
			linked[in.GetInstallationId()+"/"+in.GetProviderResourceId()] = true
		}
	}
	// Integrations whose rows cannot be read are shown as such, so the rest of the page still works.
	for _, u := range srcs.Msg.GetUnreadable() {
		if pv := byProvider[u.GetProvider()]; pv != nil {
			pv.Integrations = append(pv.Integrations, integrationView{
				ID: u.GetId(), InstallationID: u.GetInstallationId(), ResourceID: u.GetProviderResourceId(),
				Name: u.GetResourceName(), Unreadable: u.GetReason(),
			})
		}
	}
	for i := range data.Providers {
		disambiguate(data.Providers[i].Integrations)
	}
	for _, conn := range conns.Msg.GetConnections() {
		pv := byProvider[conn.GetProvider()]
		if pv == nil {
			continue
		}
		cv := connectionView{
			InstallationID: conn.GetInstallationId(),
			ExternalID:     conn.GetExternalId(),
			Account:        conn.GetAccountLogin(),
			Status:         enumWord(conn.GetStatus().String(), "CONNECTION_STATUS_"),
			StatusReason:   conn.GetStatusReason(),
			ConnectedAt:    conn.GetCreatedAt().AsTime(),
			Active:         conn.GetStatus() == consolev1.ConnectionStatus_CONNECTION_STATUS_ACTIVE,
			Broken:         conn.GetStatus() == consolev1.ConnectionStatus_CONNECTION_STATUS_ERROR,
		}
		cv.Validate = cv.Active && conn.GetProvider() == consolev1.Provider_PROVIDER_GITHUB
		if cv.Active {
			p.linkable(ctx, c, pv.proto, &cv, linked)
		}
		pv.Connections = append(pv.Connections, cv)
	}
	data.Observations = observationsView{Provider: filter, Next: obs.Msg.GetNextCursor(), Paged: cursor != "", Choices: providers}
	for _, o := range obs.Msg.GetObservations() {
		data.Observations.Items = append(data.Observations.Items, observationView{
			Provider:   providerByName[providerName(o.GetProvider())].Label,
			SourceType: o.GetSourceType(),
			Title:      o.GetTitle(),
			URL:        o.GetUrl(),
			OccurredAt: o.GetOccurredAt().AsTime(),
		})
	}
	return p.render(c, http.StatusOK, "sources", page{
		Title: workspace.GetName() + " · Sources", User: &pr, Notice: notices[c.QueryParam("notice")], Data: data,
	})
}

// integrationView converts an integration and looks up the time of its latest observation and its
// latest jobs. A failure to list the jobs is shown in place: the rest of the row is still useful.
func (p *Pages) integrationView(ctx context.Context, c echo.Context, workspaceID string, in *consolev1.Integration) (integrationView, error) {
	bf := in.GetBackfill()
	iv := integrationView{
		ID:             in.GetId(),
		InstallationID: in.GetInstallationId(),
		ResourceID:     in.GetProviderResourceId(),
		Name:           resourceName(in),
		altName:        qualifier(in),
		Active:         in.GetIsActive(),
		Backfill:       backfillWord(bf.GetStatus()),
		Processed:      bf.GetProcessed(),
		BackfillError:  bf.GetError(),
		Documents:      in.GetDocumentCount(),
		Settings:       settingsOf(in),
	}
	if bf != nil && bf.Total != nil {
		total := bf.GetTotal()
		iv.Total = &total
	}
	last, err := p.svc.Observations.ListObservations(ctx, connect.NewRequest(&consolev1.ListObservationsRequest{
		WorkspaceId: workspaceID, IntegrationId: in.GetId(), PageSize: 1,
	}))
	if err != nil {
		return iv, err
	}
	if o := last.Msg.GetObservations(); len(o) > 0 {
		iv.LastEvent = o[0].GetOccurredAt().AsTime()
	}
	jobs, err := p.svc.Jobs.ListJobs(ctx, connect.NewRequest(&consolev1.ListJobsRequest{
		WorkspaceId: workspaceID, IntegrationId: in.GetId(), PageSize: jobsShown,
	}))
	if err != nil {
		iv.JobsError = "Could not list its jobs: " + userMessage(err)
		p.log.Warn("list jobs", zap.String("route", c.Path()), zap.Error(err))
		return iv, nil
	}
	for _, j := range jobs.Msg.GetJobs() {
		state := j.GetState()
		lastErr := j.GetLastError()
		if state == consolev1.JobState_JOB_STATE_COMPLETED {
			lastErr = "" // an earlier attempt's error, no longer the job's state
		}
		iv.Jobs = append(iv.Jobs, jobView{
			ID:          j.GetId(),
			Kind:        jobKinds[j.GetKind()],
			State:       enumWord(state.String(), "JOB_STATE_"),
			Attempt:     j.GetAttempt(),
			Max:         j.GetMaxAttempts(),
			LastError:   lastErr,
			CreatedAt:   j.GetCreatedAt().AsTime(),
			Restartable: state == consolev1.JobState_JOB_STATE_DISCARDED || state == consolev1.JobState_JOB_STATE_CANCELLED,
		})
	}
	return iv, nil
}

// jobKinds are the job kinds as SPEC §7 names them.
var jobKinds = map[consolev1.JobKind]string{
	consolev1.JobKind_JOB_KIND_UNSPECIFIED: "unknown",
	consolev1.JobKind_JOB_KIND_BACKFILL:    "backfill.run",
	consolev1.JobKind_JOB_KIND_SYNC:        "sync.config",
	consolev1.JobKind_JOB_KIND_WEBHOOK:     "webhook.process",
}

// resourceName names a linked resource as the link picker does (GitHub "owner/repo", Linear
// "Engineering (ENG)", Sentry "org/project"), from resource_meta where it was recorded.
func resourceName(in *consolev1.Integration) string {
	meta := in.GetResourceMeta()
	switch {
	case meta.GetGithub().GetRepoFullName() != "":
		return meta.GetGithub().GetRepoFullName()
	case meta.GetLinear() != nil && meta.GetLinear().GetTeamKey() != "":
		return or(meta.GetLinear().GetTeamName(), in.GetResourceName()) + " (" + meta.GetLinear().GetTeamKey() + ")"
	case meta.GetVercel().GetProjectName() != "":
		return meta.GetVercel().GetProjectName()
	case meta.GetSentry() != nil && meta.GetSentry().GetOrgSlug() != "" && meta.GetSentry().GetProjectSlug() != "":
		return meta.GetSentry().GetOrgSlug() + "/" + meta.GetSentry().GetProjectSlug()
	}
	return in.GetResourceName()
}

// qualifier is what tells a resource apart from another of the same name: the Vercel team, else the id.
func qualifier(in *consolev1.Integration) string {
	if v := in.GetResourceMeta().GetVercel(); v != nil {
		return or(v.GetTeamSlug(), v.GetTeamId(), in.GetProviderResourceId())
	}
	return in.GetProviderResourceId()
}

// disambiguate gives a qualifier to every linked row whose name another row of the provider shares.
func disambiguate(ivs []integrationView) {
	count := map[string]int{}
	for _, iv := range ivs {
		count[iv.Name]++
	}
	for i := range ivs {
		if count[ivs[i].Name] > 1 {
			ivs[i].Qualifier = ivs[i].altName
		}
	}
}

func or(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// settingsOf is the in-place form's view of an integration's sync_config: every event the provider's
// transformers handle, checked when the integration ingests it.
func settingsOf(in *consolev1.Integration) settingsView {
	sc := in.GetSyncConfig()
	sv := settingsView{
		GitHub:   in.GetProvider() == consolev1.Provider_PROVIDER_GITHUB,
		Branches: strings.Join(sc.GetBranches(), "\n"),
		Paths:    strings.Join(sc.GetPaths(), "\n"),
		AutoSync: sc.GetAutoSync(),
	}
	pt, err := types.ParseProvider(providerName(in.GetProvider()))
	if err != nil {
		return sv
	}
	for _, e := range types.DefaultEvents[pt] {
		sv.Events = append(sv.Events, eventChoice{Name: e, Checked: slices.Contains(sc.GetEvents(), e)})
	}
	return sv
}

// linkable fills cv with the resources the connection reaches. A provider failure is shown on the page
// rather than failing it: the rest of the page is still useful.
func (p *Pages) linkable(ctx context.Context, c echo.Context, provider consolev1.Provider, cv *connectionView, linked map[string]bool) {
	type item struct {
		id, name string
		msg      proto.Message
	}
	var (
		items []item
		next  string
		err   error
	)
	id := cv.InstallationID
	switch provider {
	case consolev1.Provider_PROVIDER_GITHUB:
		var res *connect.Response[consolev1.ListRepositoriesResponse]
		if res, err = p.svc.GitHub.ListRepositories(ctx, connect.NewRequest(&consolev1.ListRepositoriesRequest{InstallationId: id, PageSize: linkPageSize})); err == nil {
			for _, r := range res.Msg.GetRepositories() {
				items = append(items, item{strconv.FormatInt(r.GetId(), 10), r.GetFullName(), r})
			}
			next = res.Msg.GetNextCursor()
		}
	case consolev1.Provider_PROVIDER_VERCEL:
		var res *connect.Response[consolev1.ListProjectsResponse]
		if res, err = p.svc.Vercel.ListProjects(ctx, connect.NewRequest(&consolev1.ListProjectsRequest{InstallationId: id, PageSize: linkPageSize})); err == nil {
			for _, r := range res.Msg.GetProjects() {
				items = append(items, item{r.GetId(), r.GetName(), r})
			}
			next = res.Msg.GetNextCursor()
		}
	case consolev1.Provider_PROVIDER_LINEAR:
		var res *connect.Response[consolev1.ListTeamsResponse]
		if res, err = p.svc.Linear.ListTeams(ctx, connect.NewRequest(&consolev1.ListTeamsRequest{InstallationId: id, PageSize: linkPageSize})); err == nil {
			for _, r := range res.Msg.GetTeams() {
				items = append(items, item{r.GetId(), r.GetName() + " (" + r.GetKey() + ")", r})
			}
			next = res.Msg.GetNextCursor()
		}
	case consolev1.Provider_PROVIDER_SENTRY:
		var res *connect.Response[consolev1.ListSentryProjectsResponse]
		if res, err = p.svc.Sentry.ListSentryProjects(ctx, connect.NewRequest(&consolev1.ListSentryProjectsRequest{InstallationId: id, PageSize: linkPageSize})); err == nil {
			for _, r := range res.Msg.GetProjects() {
				items = append(items, item{r.GetId(), r.GetOrgSlug() + "/" + r.GetSlug(), r})
			}
			next = res.Msg.GetNextCursor()
		}
	}
	if err != nil {
		cv.LinkableError = "Could not list them: " + userMessage(err)
		p.log.Warn("list linkable resources", zap.String("route", c.Path()), zap.String("provider", providerName(provider)), zap.Error(err))
		return
	}
	for _, it := range items {
		b, err := protojson.Marshal(it.msg)
		if err != nil {
			cv.LinkableError = "Could not list them."
			p.log.Error("marshal linkable resource", zap.Error(err))
			return
		}
		cv.Linkable = append(cv.Linkable, resourceView{ID: it.id, Name: it.name, JSON: string(b), Linked: linked[cv.InstallationID+"/"+it.id]})
	}
	cv.LinkableMore = next != ""
}

// userMessage is the part of a service error that is safe and useful to show: the API's message for the
// errors a user can act on, a generic sentence for internal ones.
func userMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Code() != connect.CodeInternal && ce.Code() != connect.CodeUnknown {
		return ce.Message()
	}
	return "the provider did not answer. Try again in a moment."
}

// enumWord turns "CONNECTION_STATUS_ACTIVE" into "active".
func enumWord(name, prefix string) string {
	w := strings.ToLower(strings.TrimPrefix(name, prefix))
	if w == "unspecified" {
		return "unknown"
	}
	return w
}

func backfillWord(s consolev1.BackfillStatus) string {
	if s == consolev1.BackfillStatus_BACKFILL_STATUS_UNSPECIFIED {
		return "idle"
	}
	return enumWord(s.String(), "BACKFILL_STATUS_")
}

// funcs are the template helpers.
var funcs = map[string]any{
	"when": func(t time.Time) string {
		if t.IsZero() || t.Unix() <= 0 {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"progress": func(iv integrationView) string {
		if iv.Total != nil {
			return fmt.Sprintf("%d / %d", iv.Processed, *iv.Total)
		}
		return fmt.Sprintf("%d processed", iv.Processed)
	},
}
