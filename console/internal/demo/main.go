// Command demo drives the connection lifecycle once against a running `make run` (simulator, gateway and
// console on localhost) and prints what happened at each step: create a workspace, connect each provider
// through the gateway and the simulator's consent, link a resource, send a signed webhook, wait for the
// observation, backfill, disconnect. `make demo` runs it with the development settings of scripts/dev.env:
//
//	go run ./internal/demo [-providers github,linear] [-org org_dev] [-keep]
//
// It signs in with a development token (AUTH_DEV_SECRET), so the workspace it creates shows up in the
// browser for the same organisation.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/console/internal/demoflow"
	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	consoleURL := fs.String("console", envOr(getenv, "CONSOLE_PUBLIC_URL", "http://localhost:4107"), "console base URL (CONSOLE_PUBLIC_URL)")
	gatewayURL := fs.String("gateway", envOr(getenv, "GATEWAY_PUBLIC_URL", "http://localhost:4110"), "gateway base URL (GATEWAY_PUBLIC_URL)")
	simURL := fs.String("sim", envOr(getenv, "PROVIDERSIM_URL", "http://localhost:4120"), "provider simulator base URL (PROVIDERSIM_URL)")
	list := fs.String("providers", strings.Join(demoflow.Providers, ","), "providers to go through, comma-separated")
	user := fs.String("user", "user_dev", "user id of the development session")
	org := fs.String("org", "org_dev", "organisation of the development session")
	keep := fs.Bool("keep", false, "stay connected: skip the disconnect step")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret := getenv("AUTH_DEV_SECRET")
	if secret == "" {
		return errors.New("AUTH_DEV_SECRET is not set: run it through `make demo`, which reads scripts/dev.env")
	}
	token, err := auth.SignDevToken(secret, auth.DevTokenOptions{
		Principal: auth.Principal{UserID: *user, OrgID: *org, OrgRole: auth.RoleAdmin}, TTL: time.Hour,
	})
	if err != nil {
		return err
	}
	c := demoflow.New(*consoleURL, *gatewayURL, *simURL, token)
	d := &demo{c: c, out: out, keep: *keep}

	d.step("session", "development token for %s in %s (admin)", *user, *org)
	ws, err := c.Workspaces.CreateWorkspace(ctx, connect.NewRequest(&consolev1.CreateWorkspaceRequest{
		Name: "Demo " + time.Now().Format("2006-01-02 15:04:05"),
	}))
	if err != nil {
		return fmt.Errorf("create workspace (is `make run` running?): %w", err)
	}
	workspace := ws.Msg.GetWorkspace()
	d.step("workspace", "%q created: %s/workspaces/%s/sources", workspace.GetName(), c.ConsoleURL, workspace.GetId())

	for _, p := range strings.Split(*list, ",") {
		p = strings.TrimSpace(p)
		fmt.Fprintf(out, "\n== %s\n", p)
		if err := d.lifecycle(ctx, p, workspace.GetId()); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	fmt.Fprintf(out, "\nDone. Open %s/workspaces/%s/sources (signed in as %s in %s) to see the workspace.\n",
		c.ConsoleURL, workspace.GetId(), *user, *org)
	return nil
}

type demo struct {
	c    *demoflow.Client
	out  io.Writer
	keep bool
}

func (d *demo) step(name, format string, args ...any) {
	fmt.Fprintf(d.out, "  %-12s %s\n", name, fmt.Sprintf(format, args...))
}

// lifecycle connects provider, links its first resource to the workspace, ingests a webhook and a backfill,
// then disconnects.
func (d *demo) lifecycle(ctx context.Context, provider, workspaceID string) error {
	c := d.c
	// A fresh provider account per run: its own demo data, and never an installation another org holds.
	account := "demo-" + demoflow.Marker()
	if provider == "vercel" {
		account = "team_demo" + demoflow.Marker()
	}
	if err := c.QueueConsent(ctx, provider, account); err != nil {
		return err
	}
	res, err := c.Connect(ctx, provider)
	if err != nil {
		return fmt.Errorf("connect: %w (went through %s)", err, strings.Join(res.Hops, " → "))
	}
	conn, err := c.Connections.GetConnection(ctx, connect.NewRequest(&consolev1.GetConnectionRequest{
		Connection: &consolev1.GetConnectionRequest_InstallationId{InstallationId: res.InstallationID},
	}))
	if err != nil {
		return fmt.Errorf("get connection: %w", err)
	}
	cn := conn.Msg.GetConnection()
	d.step("connect", "%s", strings.Join(res.Hops, " → "))
	d.step("", "connection %s: %s account %q, %s", cn.GetInstallationId(), provider, cn.GetAccountLogin(),
		strings.ToLower(strings.TrimPrefix(cn.GetStatus().String(), "CONNECTION_STATUS_")))

	linkables, err := c.Linkables(ctx, provider, cn.GetInstallationId())
	if err != nil {
		return fmt.Errorf("list resources: %w", err)
	}
	if len(linkables) == 0 {
		return errors.New("the connection reaches no resources to link")
	}
	integ, err := c.Link(ctx, provider, workspaceID, cn.GetInstallationId(), linkables[0])
	if err != nil {
		return fmt.Errorf("link: %w", err)
	}
	d.step("link", "%s (%d available) → integration %s, events %s", integ.GetResourceName(), len(linkables), integ.GetId(),
		strings.Join(integ.GetSyncConfig().GetEvents(), ","))

	wh, err := demoflow.NewWebhook(provider, demoflow.Target{
		ExternalID: cn.GetExternalId(), ResourceID: integ.GetProviderResourceId(), ResourceName: integ.GetResourceName(),
	}, demoflow.Marker())
	if err != nil {
		return err
	}
	del, err := c.SendWebhook(ctx, wh)
	if err != nil {
		return fmt.Errorf("send webhook: %w", err)
	}
	d.step("webhook", "simulator signed %s and posted it to the gateway: %d %s", wh.Event, del.Status, strings.TrimSpace(del.Body))
	if del.Status != 202 {
		return fmt.Errorf("the gateway answered %d, want 202", del.Status)
	}
	obs, err := c.WaitObservation(ctx, workspaceID, wh.Title, 30*time.Second)
	if err != nil {
		return err
	}
	d.step("observation", "%q (%s)", obs.GetTitle(), obs.GetSourceType())

	start, err := c.Backfills.StartBackfill(ctx, connect.NewRequest(&consolev1.StartBackfillRequest{IntegrationId: integ.GetId()}))
	if err != nil {
		return fmt.Errorf("start backfill: %w", err)
	}
	seen := []string{backfillWord(start.Msg.GetBackfill())}
	final, err := c.WaitBackfill(ctx, integ.GetId(), 2*time.Minute, func(s *consolev1.BackfillState) {
		if w := backfillWord(s); w != seen[len(seen)-1] {
			seen = append(seen, w)
		}
	})
	if err != nil {
		return err
	}
	d.step("backfill", "%s: %d items processed%s", strings.Join(seen, " → "), final.GetProcessed(), errSuffix(final.GetError()))
	if final.GetStatus() != consolev1.BackfillStatus_BACKFILL_STATUS_COMPLETED {
		return fmt.Errorf("the backfill ended %s", backfillWord(final))
	}
	list, err := c.Observations.ListObservations(ctx, connect.NewRequest(&consolev1.ListObservationsRequest{
		WorkspaceId: workspaceID, IntegrationId: integ.GetId(), PageSize: 100,
	}))
	if err != nil {
		return fmt.Errorf("list observations: %w", err)
	}
	more := ""
	if list.Msg.GetNextCursor() != "" {
		more = "+"
	}
	d.step("", "%d%s observations from %s", len(list.Msg.GetObservations()), more, integ.GetResourceName())

	if d.keep {
		d.step("disconnect", "skipped (-keep): connection %s stays active", cn.GetInstallationId())
		return nil
	}
	if _, err := c.Connections.Disconnect(ctx, connect.NewRequest(&consolev1.DisconnectRequest{InstallationId: cn.GetInstallationId()})); err != nil {
		return fmt.Errorf("disconnect: %w", err)
	}
	srcs, err := c.Integrations.ListSources(ctx, connect.NewRequest(&consolev1.ListSourcesRequest{WorkspaceId: workspaceID}))
	if err != nil {
		return fmt.Errorf("list sources: %w", err)
	}
	for _, in := range srcs.Msg.GetIntegrations() {
		if in.GetId() == integ.GetId() {
			state := "inactive"
			if in.GetIsActive() {
				state = "STILL ACTIVE"
			}
			d.step("disconnect", "connection %s revoked; integration %s is %s", cn.GetInstallationId(), in.GetId(), state)
			if in.GetIsActive() {
				return errors.New("the integration is still active after disconnect")
			}
		}
	}
	return nil
}

func backfillWord(s *consolev1.BackfillState) string {
	return strings.ToLower(strings.TrimPrefix(s.GetStatus().String(), "BACKFILL_STATUS_"))
}

func errSuffix(e string) string {
	if e == "" {
		return ""
	}
	return " (" + e + ")"
}
