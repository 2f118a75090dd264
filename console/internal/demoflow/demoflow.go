// Package demoflow drives the connection lifecycle against running services (provider simulator, gateway,
// console) from outside, as a person and the providers would: `make demo` runs it from the command line and
// the browser tests reuse its simulator client and webhook payloads. It talks HTTP only: the Console API in
// Connect's JSON mode with a session token, the gateway through the browser redirects of a connect flow,
// and the simulator's /_sim control endpoints.
package demoflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect"

	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
	"github.com/lightfastai/connections/proto/gen/lightfast/console/v1/consolev1connect"
)

// Providers are the provider names in the order the demo and the tests go through them.
var Providers = []string{"github", "vercel", "linear", "sentry"}

// ProviderEnum returns the Connect enum of a provider name ("github" → PROVIDER_GITHUB).
func ProviderEnum(name string) consolev1.Provider {
	return consolev1.Provider(consolev1.Provider_value["PROVIDER_"+strings.ToUpper(name)])
}

// Client reaches the three services.
type Client struct {
	ConsoleURL, GatewayURL, SimURL string

	Workspaces   consolev1connect.WorkspaceServiceClient
	Connections  consolev1connect.ConnectionServiceClient
	Integrations consolev1connect.IntegrationServiceClient
	Backfills    consolev1connect.BackfillServiceClient
	Observations consolev1connect.ObservationServiceClient
	GitHub       consolev1connect.GitHubServiceClient
	Vercel       consolev1connect.VercelServiceClient
	Linear       consolev1connect.LinearServiceClient
	Sentry       consolev1connect.SentryServiceClient

	http *http.Client
}

// New returns a Client that calls the Console API as the holder of session token (a session JWT, e.g. a
// development token). The URLs are the services' public base URLs.
func New(consoleURL, gatewayURL, simURL, token string) *Client {
	hc := &http.Client{Timeout: 30 * time.Second}
	opts := []connect.ClientOption{connect.WithProtoJSON(), connect.WithInterceptors(bearer(token))}
	consoleURL = strings.TrimRight(consoleURL, "/")
	return &Client{
		ConsoleURL: consoleURL, GatewayURL: strings.TrimRight(gatewayURL, "/"), SimURL: strings.TrimRight(simURL, "/"),
		Workspaces:   consolev1connect.NewWorkspaceServiceClient(hc, consoleURL, opts...),
		Connections:  consolev1connect.NewConnectionServiceClient(hc, consoleURL, opts...),
		Integrations: consolev1connect.NewIntegrationServiceClient(hc, consoleURL, opts...),
		Backfills:    consolev1connect.NewBackfillServiceClient(hc, consoleURL, opts...),
		Observations: consolev1connect.NewObservationServiceClient(hc, consoleURL, opts...),
		GitHub:       consolev1connect.NewGitHubServiceClient(hc, consoleURL, opts...),
		Vercel:       consolev1connect.NewVercelServiceClient(hc, consoleURL, opts...),
		Linear:       consolev1connect.NewLinearServiceClient(hc, consoleURL, opts...),
		Sentry:       consolev1connect.NewSentryServiceClient(hc, consoleURL, opts...),
		http:         hc,
	}
}

func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}
}

// ConnectResult is where a connect flow ended: the console's /connected page and its query, then the
// confirmation.
type ConnectResult struct {
	InstallationID string
	// AccountLogin is the provider account the confirmed connection is on.
	AccountLogin string
	// Error is the gateway's error code when the flow failed.
	Error string
	// Hops are the hosts and paths the browser went through (no query strings: they carry states and codes).
	Hops []string
}

// Connect runs a provider's connect flow as a browser would without the popup: it asks the console for the
// authorize URL, follows the redirects (gateway → provider consent → gateway callback) with a cookie jar
// until they reach the console's /connected page, then confirms the connection as that page does.
func (c *Client) Connect(ctx context.Context, provider string) (ConnectResult, error) {
	res, err := c.Connections.GetAuthorizeURL(ctx, connect.NewRequest(&consolev1.GetAuthorizeURLRequest{Provider: ProviderEnum(provider)}))
	if err != nil {
		return ConnectResult{}, fmt.Errorf("get authorize url: %w", err)
	}
	console, err := url.Parse(c.ConsoleURL)
	if err != nil {
		return ConnectResult{}, fmt.Errorf("console url: %w", err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return ConnectResult{}, err
	}
	var out ConnectResult
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		out.Hops = append(out.Hops, req.URL.Host+req.URL.Path)
		if len(via) > 10 {
			return errors.New("too many redirects")
		}
		if req.URL.Host == console.Host {
			return http.ErrUseLastResponse // the popup would now load /connected
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, res.Msg.GetAuthorizeUrl(), nil)
	if err != nil {
		return out, err
	}
	u, _ := url.Parse(res.Msg.GetAuthorizeUrl())
	out.Hops = append([]string{u.Host + u.Path}, out.Hops...)
	resp, err := browser.Do(req)
	if err != nil {
		return out, fmt.Errorf("follow the connect flow: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Host != console.Host || loc.Path != "/connected" {
		return out, fmt.Errorf("the connect flow stopped at %s %s (status %d): %s", resp.Request.URL.Host, resp.Request.URL.Path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	out.InstallationID, out.Error = loc.Query().Get("installationId"), loc.Query().Get("error")
	if out.Error != "" {
		return out, fmt.Errorf("the gateway reported %s", out.Error)
	}
	// The callback left the connection pending; /connected confirms it under the session that started
	// the flow, as this does.
	conf, err := c.Connections.ConfirmConnection(ctx, connect.NewRequest(&consolev1.ConfirmConnectionRequest{InstallationId: out.InstallationID}))
	if err != nil {
		return out, fmt.Errorf("confirm the connection: %w", err)
	}
	out.AccountLogin = conf.Msg.GetConnection().GetAccountLogin()
	out.Hops = append(out.Hops, "ConnectionService.ConfirmConnection")
	return out, nil
}

// Linkable is a resource a connection can link.
type Linkable struct {
	ID, Name string
	msg      any
}

// Linkables lists the first page of a connection's repositories, projects or teams.
func (c *Client) Linkables(ctx context.Context, provider, installationID string) ([]Linkable, error) {
	var out []Linkable
	switch provider {
	case "github":
		res, err := c.GitHub.ListRepositories(ctx, connect.NewRequest(&consolev1.ListRepositoriesRequest{InstallationId: installationID}))
		if err != nil {
			return nil, err
		}
		for _, r := range res.Msg.GetRepositories() {
			out = append(out, Linkable{ID: fmt.Sprint(r.GetId()), Name: r.GetFullName(), msg: r})
		}
	case "vercel":
		res, err := c.Vercel.ListProjects(ctx, connect.NewRequest(&consolev1.ListProjectsRequest{InstallationId: installationID}))
		if err != nil {
			return nil, err
		}
		for _, p := range res.Msg.GetProjects() {
			out = append(out, Linkable{ID: p.GetId(), Name: p.GetName(), msg: p})
		}
	case "linear":
		res, err := c.Linear.ListTeams(ctx, connect.NewRequest(&consolev1.ListTeamsRequest{InstallationId: installationID}))
		if err != nil {
			return nil, err
		}
		for _, t := range res.Msg.GetTeams() {
			out = append(out, Linkable{ID: t.GetId(), Name: t.GetName(), msg: t})
		}
	case "sentry":
		res, err := c.Sentry.ListSentryProjects(ctx, connect.NewRequest(&consolev1.ListSentryProjectsRequest{InstallationId: installationID}))
		if err != nil {
			return nil, err
		}
		for _, p := range res.Msg.GetProjects() {
			out = append(out, Linkable{ID: p.GetId(), Name: p.GetOrgSlug() + "/" + p.GetSlug(), msg: p})
		}
	default:
		return nil, fmt.Errorf("unknown provider %q", provider)
	}
	return out, nil
}

// Link links one resource to a workspace with the provider's bulk-link procedure.
func (c *Client) Link(ctx context.Context, provider, workspaceID, installationID string, l Linkable) (*consolev1.Integration, error) {
	var got []*consolev1.Integration
	switch m := l.msg.(type) {
	case *consolev1.GitHubRepository:
		res, err := c.Integrations.BulkLinkGitHubRepositories(ctx, connect.NewRequest(&consolev1.BulkLinkGitHubRepositoriesRequest{
			WorkspaceId: workspaceID, InstallationId: installationID, Repositories: []*consolev1.GitHubRepository{m}}))
		if err != nil {
			return nil, err
		}
		got = res.Msg.GetIntegrations()
	case *consolev1.VercelProject:
		res, err := c.Integrations.BulkLinkVercelProjects(ctx, connect.NewRequest(&consolev1.BulkLinkVercelProjectsRequest{
			WorkspaceId: workspaceID, InstallationId: installationID, Projects: []*consolev1.VercelProject{m}}))
		if err != nil {
			return nil, err
		}
		got = res.Msg.GetIntegrations()
	case *consolev1.LinearTeam:
		res, err := c.Integrations.BulkLinkLinearTeams(ctx, connect.NewRequest(&consolev1.BulkLinkLinearTeamsRequest{
			WorkspaceId: workspaceID, InstallationId: installationID, Teams: []*consolev1.LinearTeam{m}}))
		if err != nil {
			return nil, err
		}
		got = res.Msg.GetIntegrations()
	case *consolev1.SentryProject:
		res, err := c.Integrations.BulkLinkSentryProjects(ctx, connect.NewRequest(&consolev1.BulkLinkSentryProjectsRequest{
			WorkspaceId: workspaceID, InstallationId: installationID, Projects: []*consolev1.SentryProject{m}}))
		if err != nil {
			return nil, err
		}
		got = res.Msg.GetIntegrations()
	default:
		return nil, fmt.Errorf("link %s: not a %s resource", l.Name, provider)
	}
	if len(got) != 1 {
		return nil, fmt.Errorf("link %s: got %d integrations, want 1", l.Name, len(got))
	}
	return got[0], nil
}

// WaitObservation polls the workspace's observations until one titled title appears.
func (c *Client) WaitObservation(ctx context.Context, workspaceID, title string, timeout time.Duration) (*consolev1.Observation, error) {
	var found *consolev1.Observation
	err := poll(ctx, timeout, func() (bool, error) {
		res, err := c.Observations.ListObservations(ctx, connect.NewRequest(&consolev1.ListObservationsRequest{WorkspaceId: workspaceID, PageSize: 50}))
		if err != nil {
			return false, err
		}
		for _, o := range res.Msg.GetObservations() {
			if o.GetTitle() == title {
				found = o
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for observation %q: %w", title, err)
	}
	return found, nil
}

// WaitBackfill polls an integration's backfill until it ends, calling progress with each state it sees.
func (c *Client) WaitBackfill(ctx context.Context, integrationID string, timeout time.Duration, progress func(*consolev1.BackfillState)) (*consolev1.BackfillState, error) {
	var last *consolev1.BackfillState
	err := poll(ctx, timeout, func() (bool, error) {
		res, err := c.Backfills.GetBackfillStatus(ctx, connect.NewRequest(&consolev1.GetBackfillStatusRequest{IntegrationId: integrationID}))
		if err != nil {
			return false, err
		}
		last = res.Msg.GetBackfill()
		if progress != nil {
			progress(last)
		}
		switch last.GetStatus() {
		case consolev1.BackfillStatus_BACKFILL_STATUS_COMPLETED, consolev1.BackfillStatus_BACKFILL_STATUS_FAILED,
			consolev1.BackfillStatus_BACKFILL_STATUS_CANCELLED:
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return last, fmt.Errorf("wait for backfill: %w", err)
	}
	return last, nil
}

// poll calls done every 200 ms until it reports true, fails, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not done after %s", timeout)
		case <-t.C:
		}
	}
}

// simCall posts body as JSON to a simulator control endpoint and decodes the answer into out.
func (c *Client) simCall(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.SimURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("simulator %s: %w", path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("simulator %s: %w", path, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("simulator %s: status %d: %s", path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("simulator %s: decode: %w", path, err)
		}
	}
	return nil
}

// SimCalls returns the simulator's call counters by endpoint key (providersim's Key* constants, e.g.
// "linear.oauth.revoke").
func (c *Client) SimCalls(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	return out, c.simCall(ctx, http.MethodGet, "/_sim/calls", nil, &out)
}

// QueueConsent makes the simulator's next consent for provider install on account (a GitHub account login,
// Vercel team id, Linear organization urlKey or Sentry organization slug); a new account gets its own demo
// data, so repeated runs never collide with an installation another organisation holds.
func (c *Client) QueueConsent(ctx context.Context, provider, account string) error {
	return c.QueueConsentWith(ctx, provider, map[string]any{"account": account})
}

// QueueConsentWith queues any scripted consent (the simulator's Consent: deny, installationId, account,
// user, personal, omitCode, omitState).
func (c *Client) QueueConsentWith(ctx context.Context, provider string, consent map[string]any) error {
	body := map[string]any{"provider": provider}
	for k, v := range consent {
		body[k] = v
	}
	return c.simCall(ctx, http.MethodPost, "/_sim/consent", body, nil)
}

// Delivery is the simulator's account of one webhook it sent.
type Delivery struct {
	// Status and Body are the gateway's answer.
	Status     int    `json:"status"`
	Body       string `json:"body"`
	DeliveryID string `json:"deliveryId"`
}

// SendWebhook has the simulator sign and send w to the gateway's /webhooks/<provider>.
func (c *Client) SendWebhook(ctx context.Context, w Webhook) (Delivery, error) {
	req := map[string]any{
		"provider": w.Provider, "url": c.GatewayURL + "/webhooks/" + w.Provider, "event": w.Event, "payload": w.Payload,
	}
	if w.Provider == "linear" {
		// Linear signs with the secret of the webhook the gateway registered for this organization.
		id, err := c.linearWebhookID(ctx, w.externalID)
		if err != nil {
			return Delivery{}, err
		}
		req["webhookId"] = id
	}
	var d Delivery
	if err := c.simCall(ctx, http.MethodPost, "/_sim/webhooks/send", req, &d); err != nil {
		return d, err
	}
	return d, nil
}

// linearWebhookID returns the newest webhook the simulator holds for a Linear organization.
func (c *Client) linearWebhookID(ctx context.Context, organizationID string) (string, error) {
	var st struct {
		LinearWebhooks []struct {
			ID             string    `json:"id"`
			OrganizationID string    `json:"organizationId"`
			CreatedAt      time.Time `json:"createdAt"`
		} `json:"linearWebhooks"`
	}
	if err := c.simCall(ctx, http.MethodGet, "/_sim/state", nil, &st); err != nil {
		return "", err
	}
	id, newest := "", time.Time{}
	for _, w := range st.LinearWebhooks {
		if w.OrganizationID == organizationID && !w.CreatedAt.Before(newest) {
			id, newest = w.ID, w.CreatedAt
		}
	}
	if id == "" {
		return "", fmt.Errorf("the simulator holds no webhook for Linear organization %s: the gateway registers one when connecting", organizationID)
	}
	return id, nil
}
