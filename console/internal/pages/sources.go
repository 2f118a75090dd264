package pages

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// linkPageSize is how many linkable resources a connection lists; the rest are reachable through the API.
const linkPageSize = 100

// recentObservations is how many observations the sources page shows.
const recentObservations = 10

type sourcesData struct {
	Workspace    *consolev1.Workspace
	Providers    []providerView
	Observations []observationView
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
	Name           string
	Active         bool
	Backfill       string // idle, pending, running, completed, failed, cancelled
	Processed      int32
	Total          *int32
	BackfillError  string
	Documents      int32
	LastEvent      time.Time
	// Unreadable says why the integration's stored settings cannot be read (empty when they can).
	Unreadable string
}

type observationView struct {
	Provider   string
	SourceType string
	Title      string
	URL        string
	OccurredAt time.Time
}

// sources is a workspace's sources page: per provider, the organisation's connections with Connect and
// Disconnect, the workspace's linked resources with their backfill progress and last event, a form to
// link more, and the workspace's latest observations.
func (p *Pages) sources(c echo.Context) error {
	ctx, pr, ok, err := p.session(c)
	if !ok {
		return err
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
	obs, err := p.svc.Observations.ListObservations(ctx, connect.NewRequest(&consolev1.ListObservationsRequest{
		WorkspaceId: workspace.GetId(), PageSize: recentObservations,
	}))
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
		iv, err := p.integrationView(ctx, workspace.GetId(), in)
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
		}
		if cv.Active {
			p.linkable(ctx, c, pv.proto, &cv, linked)
		}
		pv.Connections = append(pv.Connections, cv)
	}
	for _, o := range obs.Msg.GetObservations() {
		data.Observations = append(data.Observations, observationView{
			Provider:   providerByName[providerName(o.GetProvider())].Label,
			SourceType: o.GetSourceType(),
			Title:      o.GetTitle(),
			URL:        o.GetUrl(),
			OccurredAt: o.GetOccurredAt().AsTime(),
		})
	}
	return p.render(c, http.StatusOK, "sources", page{Title: workspace.GetName() + " · Sources", User: &pr, Data: data})
}

// integrationView converts an integration and looks up the time of its latest observation.
func (p *Pages) integrationView(ctx context.Context, workspaceID string, in *consolev1.Integration) (integrationView, error) {
	bf := in.GetBackfill()
	iv := integrationView{
		ID:             in.GetId(),
		InstallationID: in.GetInstallationId(),
		ResourceID:     in.GetProviderResourceId(),
		Name:           in.GetResourceName(),
		Active:         in.GetIsActive(),
		Backfill:       backfillWord(bf.GetStatus()),
		Processed:      bf.GetProcessed(),
		BackfillError:  bf.GetError(),
		Documents:      in.GetDocumentCount(),
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
	return iv, nil
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
