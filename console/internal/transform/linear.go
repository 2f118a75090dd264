package transform

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/lightfastai/connections/db/types"
)

// Linear webhook shape: {action, type, createdAt, data, url, actor, organizationId, webhookTimestamp}.
// Docs: https://linear.app/developers/webhooks
type linearEvent struct {
	Action    string      `json:"action"`
	Type      string      `json:"type"`
	CreatedAt string      `json:"createdAt"`
	URL       string      `json:"url"`
	Actor     *linearUser `json:"actor"`
	Data      *linearData `json:"data"`
}

type linearUser struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	AvatarURL string `json:"avatarUrl"`
}

func (u *linearUser) actor() *types.Actor {
	if u == nil || (u.ID == "" && u.Name == "") {
		return nil
	}
	return &types.Actor{ID: u.ID, Name: u.Name, Email: u.Email, AvatarURL: u.AvatarURL}
}

type linearData struct {
	ID          string `json:"id"`
	Identifier  string `json:"identifier"` // issues: "ENG-123"
	Title       string `json:"title"`
	Name        string `json:"name"` // projects
	Description string `json:"description"`
	Body        string `json:"body"` // comments
	URL         string `json:"url"`
	CreatedAt   string `json:"createdAt"`
	UpdatedAt   string `json:"updatedAt"`
	ArchivedAt  string `json:"archivedAt"`
	TeamID      string `json:"teamId"`
	// State is an object {name, type} on issues and a plain string on projects.
	State    json.RawMessage `json:"state"`
	Priority *float64        `json:"priority"`
	IssueID  string          `json:"issueId"` // comments
	Issue    *struct {
		ID         string `json:"id"`
		Identifier string `json:"identifier"`
		Title      string `json:"title"`
		URL        string `json:"url"`
	} `json:"issue"`
	User    *linearUser `json:"user"`    // comments: the author
	Creator *linearUser `json:"creator"` // issues
}

var linearVerbs = map[string]string{"create": "created", "update": "updated", "remove": "removed"}

// linearEntities maps the handled Linear types to the entity names of source ids and types.
var linearEntities = map[string]string{"Issue": "issue", "Comment": "comment", "Project": "project"}

func linear(payload []byte, receivedAt time.Time) ([]Observation, error) {
	var e linearEvent
	if err := decode(payload, &e); err != nil {
		return nil, err
	}
	entity, ok := linearEntities[e.Type]
	verb, known := linearVerbs[e.Action]
	if !ok || !known {
		return nil, nil
	}
	d := e.Data
	if d == nil || d.ID == "" {
		return nil, missing("data.id")
	}
	updatedAt := or(d.UpdatedAt, e.CreatedAt)
	if updatedAt == "" {
		// Without any provider time the receipt time is the only deterministic discriminator we have.
		updatedAt = receivedAt.UTC().Format(time.RFC3339Nano)
	}
	var at time.Time
	switch e.Action {
	case "create":
		at = firstTime(parseTime(d.CreatedAt), parseTime(e.CreatedAt))
	case "update":
		at = firstTime(parseTime(d.UpdatedAt), parseTime(e.CreatedAt))
	case "remove":
		at = firstTime(parseTime(d.ArchivedAt), parseTime(e.CreatedAt), parseTime(d.UpdatedAt))
	}
	md := types.Object{"id": d.ID, "action": e.Action}
	if d.TeamID != "" {
		md["teamId"] = d.TeamID
	}
	actor := e.Actor.actor()
	o := Observation{
		SourceType: entity + "." + verb,
		SourceID:   LinearSourceID(entity, d.ID, e.Action, updatedAt),
		URL:        or(e.URL, d.URL),
		OccurredAt: firstTime(at, receivedAt),
		Metadata:   md,
	}
	switch entity {
	case "issue":
		ref := or(d.Identifier, d.ID)
		o.Title = fmt.Sprintf("%s %s: %s", ref, verb, d.Title)
		o.Body = d.Description
		md["identifier"] = d.Identifier
		var state struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(d.State, &state) == nil && state.Name != "" {
			md["state"] = state.Name
		}
		if actor == nil {
			actor = d.Creator.actor()
		}
	case "comment":
		on := d.IssueID
		if d.Issue != nil {
			on = or(d.Issue.Identifier, d.Issue.Title, d.Issue.ID, on)
			md["issueId"] = d.Issue.ID
			if o.URL == "" {
				o.URL = d.Issue.URL
			}
		} else if d.IssueID != "" {
			md["issueId"] = d.IssueID
		}
		o.Title = fmt.Sprintf("Comment %s on %s", verb, or(on, "an issue"))
		o.Body = d.Body
		if actor == nil {
			actor = d.User.actor()
		}
	case "project":
		o.Title = fmt.Sprintf("Project %s %s", or(d.Name, d.ID), verb)
		var state string
		if json.Unmarshal(d.State, &state) == nil && state != "" {
			md["state"] = state
		}
		o.Body = d.Description
	}
	o.Actor = actor
	return []Observation{o}, nil
}
