package transform

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lightfastai/connections/db/types"
)

// Sentry integration-platform webhooks: {action, installation, data, actor}, the resource in the
// Sentry-Hook-Resource header. Docs: https://docs.sentry.io/organization/integrations/integration-platform/webhooks/

// flexID reads an id Sentry sends either as a string or as a number.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*f = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		*f = ""
		return nil //nolint:nilerr // an id of another shape is treated as absent, and reported as missing
	}
	*f = flexID(n.String())
	return nil
}

type sentryActor struct {
	Type string `json:"type"`
	ID   flexID `json:"id"`
	Name string `json:"name"`
}

func (a *sentryActor) actor() *types.Actor {
	// "application" is Sentry itself (e.g. a new issue); only people are actors.
	if a == nil || a.Type != "user" || (a.ID == "" && a.Name == "") {
		return nil
	}
	return &types.Actor{ID: string(a.ID), Name: a.Name}
}

type sentryEnvelope struct {
	Action string          `json:"action"`
	Actor  *sentryActor    `json:"actor"`
	Data   json.RawMessage `json:"data"`
}

type sentryIssue struct {
	ID        flexID `json:"id"`
	ShortID   string `json:"shortId"`
	Title     string `json:"title"`
	Culprit   string `json:"culprit"`
	Level     string `json:"level"`
	Status    string `json:"status"`
	Permalink string `json:"permalink"`
	WebURL    string `json:"web_url"`
	FirstSeen string `json:"firstSeen"`
	Project   *struct {
		ID   flexID `json:"id"`
		Slug string `json:"slug"`
	} `json:"project"`
}

type sentryErrorEvent struct {
	EventID  string `json:"event_id"`
	IssueID  flexID `json:"issue_id"`
	Title    string `json:"title"`
	Culprit  string `json:"culprit"`
	Level    string `json:"level"`
	Message  string `json:"message"`
	WebURL   string `json:"web_url"`
	IssueURL string `json:"issue_url"`
	Project  flexID `json:"project"`
	Datetime string `json:"datetime"`
	User     *struct {
		ID       flexID `json:"id"`
		Username string `json:"username"`
		Email    string `json:"email"`
	} `json:"user"`
}

func sentry(resource string, payload []byte, receivedAt time.Time) ([]Observation, error) {
	switch resource {
	case "issue", "error", "event_alert":
	default:
		return nil, nil
	}
	var e sentryEnvelope
	if err := decode(payload, &e); err != nil {
		return nil, err
	}
	switch resource {
	case "issue":
		return sentryIssueObs(e, receivedAt)
	case "error":
		return sentryErrorObs(e, receivedAt)
	default:
		return sentryEventAlertObs(e, receivedAt)
	}
}

func sentryIssueObs(e sentryEnvelope, receivedAt time.Time) ([]Observation, error) {
	if e.Action != "created" && e.Action != "resolved" {
		return nil, nil
	}
	var d struct {
		Issue *sentryIssue `json:"issue"`
	}
	if err := decode(e.Data, &d); err != nil {
		return nil, err
	}
	is := d.Issue
	if is == nil || is.ID == "" {
		return nil, missing("data.issue.id")
	}
	md := types.Object{"issueId": string(is.ID), "level": is.Level, "status": is.Status}
	if is.ShortID != "" {
		md["shortId"] = is.ShortID
	}
	if is.Project != nil {
		md["projectId"], md["projectSlug"] = string(is.Project.ID), is.Project.Slug
	}
	at := receivedAt // Sentry does not say when an issue was resolved; the delivery is as close as it gets.
	if e.Action == "created" {
		at = firstTime(parseTime(is.FirstSeen), receivedAt)
	}
	return []Observation{{
		SourceType: "sentry.issue." + e.Action,
		SourceID:   SentryIssueSourceID(string(is.ID), e.Action),
		Title:      fmt.Sprintf("%s %s: %s", or(is.ShortID, "Issue "+string(is.ID)), e.Action, is.Title),
		Body:       is.Culprit,
		Actor:      e.Actor.actor(),
		URL:        or(is.WebURL, is.Permalink),
		OccurredAt: at,
		Metadata:   md,
	}}, nil
}

func (ev *sentryErrorEvent) observation(sourceType, sourceID, title string, receivedAt time.Time) Observation {
	md := types.Object{"eventId": ev.EventID, "level": ev.Level}
	if ev.IssueID != "" {
		md["issueId"] = string(ev.IssueID)
	}
	if ev.Project != "" {
		md["projectId"] = string(ev.Project)
	}
	var actor *types.Actor
	if u := ev.User; u != nil && (u.ID != "" || u.Username != "" || u.Email != "") {
		actor = &types.Actor{ID: string(u.ID), Login: u.Username, Name: or(u.Username, u.Email), Email: u.Email}
	}
	body := ev.Culprit
	if ev.Message != "" && ev.Message != ev.Title {
		body = strings.TrimSpace(ev.Message + "\n" + ev.Culprit)
	}
	return Observation{
		SourceType: sourceType,
		SourceID:   sourceID,
		Title:      title,
		Body:       body,
		Actor:      actor,
		URL:        or(ev.WebURL, ev.IssueURL),
		OccurredAt: firstTime(parseTime(ev.Datetime), receivedAt),
		Metadata:   md,
	}
}

func sentryErrorObs(e sentryEnvelope, receivedAt time.Time) ([]Observation, error) {
	if e.Action != "created" {
		return nil, nil
	}
	var d struct {
		Error *sentryErrorEvent `json:"error"`
	}
	if err := decode(e.Data, &d); err != nil {
		return nil, err
	}
	if d.Error == nil || d.Error.EventID == "" {
		return nil, missing("data.error.event_id")
	}
	ev := d.Error
	title := "Error: " + or(ev.Title, ev.Message, ev.EventID)
	return []Observation{ev.observation("sentry.error.created", SentryErrorSourceID(ev.EventID), title, receivedAt)}, nil
}

func sentryEventAlertObs(e sentryEnvelope, receivedAt time.Time) ([]Observation, error) {
	if e.Action != "triggered" {
		return nil, nil
	}
	var d struct {
		Event *sentryErrorEvent `json:"event"`
		Rule  string            `json:"triggered_rule"`
	}
	if err := decode(e.Data, &d); err != nil {
		return nil, err
	}
	if d.Event == nil || d.Event.EventID == "" {
		return nil, missing("data.event.event_id")
	}
	ev := d.Event
	title := fmt.Sprintf("Alert %q triggered: %s", or(d.Rule, "rule"), or(ev.Title, ev.Message, ev.EventID))
	o := ev.observation("sentry.event_alert.triggered", SentryEventAlertSourceID(ev.EventID, d.Rule), title, receivedAt)
	o.Metadata["rule"] = d.Rule
	return []Observation{o}, nil
}
