package demoflow

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Target is what a webhook is about: a connection (its provider-side id) and a linked resource.
type Target struct {
	// ExternalID is the connection's provider-side id: the GitHub installation id, Vercel configuration id,
	// Linear organization id or Sentry installation uuid (Connection.external_id).
	ExternalID string
	// ResourceID and ResourceName are the linked resource's provider id and name (Integration).
	ResourceID, ResourceName string
}

// Webhook is one provider event, shaped like the provider's own delivery, and the title of the observation
// the console's workers make of it.
type Webhook struct {
	Provider string
	// Event is the simulator's event name: X-GitHub-Event, the Vercel type, the Linear type or
	// Sentry-Hook-Resource.
	Event   string
	Payload map[string]any
	// Title is the observation title the transformers produce for it.
	Title string

	externalID string
}

// Marker returns a short random word that makes a webhook's observation title unique.
func Marker() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewWebhook returns a content event about t for provider, carrying marker in its title: GitHub an issue
// opened in the repository, Vercel a production deployment of the project that succeeded, Linear an issue
// created in the team, Sentry a new issue in the project. Each is one the new link's default sync config
// lets through.
func NewWebhook(provider string, t Target, marker string) (Webhook, error) {
	now := time.Now().UTC()
	stamp := now.Format(time.RFC3339)
	number := now.UnixMilli() % 100000
	title := "Demo " + marker
	w := Webhook{Provider: provider, externalID: t.ExternalID}
	switch provider {
	case "github":
		inst, err := strconv.ParseInt(t.ExternalID, 10, 64)
		if err != nil {
			return w, fmt.Errorf("github installation id %q is not a number", t.ExternalID)
		}
		repoID, err := strconv.ParseInt(t.ResourceID, 10, 64)
		if err != nil {
			return w, fmt.Errorf("github repository id %q is not a number", t.ResourceID)
		}
		_, name, _ := strings.Cut(t.ResourceName, "/")
		sender := map[string]any{"id": 1001, "login": "sim-user", "type": "User", "avatar_url": "https://avatars.githubusercontent.com/u/1001"}
		w.Event = "issues"
		w.Payload = map[string]any{
			"action": "opened",
			"issue": map[string]any{
				"id": now.UnixMilli(), "number": number, "title": title, "body": "Opened by the Lightfast demo.",
				"state": "open", "user": sender, "created_at": stamp, "updated_at": stamp,
				"html_url": fmt.Sprintf("https://github.com/%s/issues/%d", t.ResourceName, number),
			},
			"repository": map[string]any{
				"id": repoID, "name": name, "full_name": t.ResourceName, "default_branch": "main",
				"html_url": "https://github.com/" + t.ResourceName, "private": false,
			},
			"installation": map[string]any{"id": inst},
			"sender":       sender,
		}
		w.Title = fmt.Sprintf("Issue #%d opened: %s", number, title)
	case "vercel":
		id := "dpl_" + marker
		w.Event = "deployment.succeeded"
		// The simulator wraps this in Vercel's envelope {id, type, createdAt, payload}.
		w.Payload = map[string]any{
			"deployment":    map[string]any{"id": id, "name": t.ResourceName, "url": t.ResourceName + "-" + marker + ".vercel.app", "meta": map[string]string{}},
			"project":       map[string]any{"id": t.ResourceID},
			"configuration": map[string]any{"id": t.ExternalID},
			"links":         map[string]any{"deployment": "https://vercel.com/deployments/" + id},
			"name":          t.ResourceName,
			"target":        "production",
		}
		w.Title = fmt.Sprintf("Production deployment of %s succeeded", t.ResourceName)
	case "linear":
		w.Event = "Issue"
		key := fmt.Sprintf("DEMO-%d", number)
		w.Payload = map[string]any{
			"action":         "create",
			"organizationId": t.ExternalID,
			"url":            "https://linear.app/demo/issue/" + key,
			"actor":          map[string]any{"id": "user-demo", "name": "Demo User"},
			"data": map[string]any{
				"id": "issue-" + marker, "identifier": key, "title": title, "description": "Created by the Lightfast demo.",
				"teamId": t.ResourceID, "createdAt": stamp, "updatedAt": stamp,
			},
		}
		w.Title = fmt.Sprintf("%s created: %s", key, title)
	case "sentry":
		slug := t.ResourceName
		if _, s, ok := strings.Cut(t.ResourceName, "/"); ok {
			slug = s
		}
		shortID := fmt.Sprintf("%s-%d", strings.ToUpper(slug), number)
		w.Event = "issue"
		w.Payload = map[string]any{
			"action":       "created",
			"installation": map[string]any{"uuid": t.ExternalID},
			"actor":        map[string]any{"type": "application", "id": "sentry", "name": "Sentry"},
			"data": map[string]any{"issue": map[string]any{
				"id": strconv.FormatInt(now.UnixMilli(), 10), "shortId": shortID, "title": title, "culprit": "demo.handler",
				"level": "error", "status": "unresolved", "firstSeen": stamp,
				"web_url": "https://sentry.io/issues/" + marker + "/",
				"project": map[string]any{"id": t.ResourceID, "slug": slug},
			}},
		}
		w.Title = fmt.Sprintf("%s created: %s", shortID, title)
	default:
		return w, fmt.Errorf("unknown provider %q", provider)
	}
	return w, nil
}
