package transform

import (
	"fmt"
	"time"

	"github.com/lightfastai/connections/db/types"
)

// Vercel webhook shape: an envelope {id, type, createdAt (ms), payload}. Docs:
// https://vercel.com/docs/webhooks/webhooks-api
type vercelEvent struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	CreatedAt int64  `json:"createdAt"`
	Payload   struct {
		Team *struct {
			ID string `json:"id"`
		} `json:"team"`
		User *struct {
			ID string `json:"id"`
		} `json:"user"`
		Deployment *struct {
			ID           string            `json:"id"`
			Name         string            `json:"name"`
			URL          string            `json:"url"`
			InspectorURL string            `json:"inspectorUrl"`
			Meta         map[string]string `json:"meta"`
		} `json:"deployment"`
		DeploymentID string `json:"deploymentId"` // older payloads
		Links        struct {
			Deployment string `json:"deployment"`
			Project    string `json:"project"`
		} `json:"links"`
		Name    string  `json:"name"`
		URL     string  `json:"url"`
		Target  *string `json:"target"`
		Project *struct {
			ID string `json:"id"`
		} `json:"project"`
		ProjectID string `json:"projectId"`
	} `json:"payload"`
}

// vercelStates maps Vercel's deployment event types to the states the platform records.
var vercelStates = map[string]string{
	"deployment.created":   "created",
	"deployment.succeeded": "succeeded",
	"deployment.ready":     "succeeded", // the pre-2023 name of succeeded
	"deployment.error":     "error",
	"deployment.canceled":  "canceled",
}

var vercelVerbs = map[string]string{
	"created": "started", "succeeded": "succeeded", "error": "failed", "canceled": "was canceled",
}

func vercel(eventType string, payload []byte, receivedAt time.Time) ([]Observation, error) {
	var e vercelEvent
	if err := decode(payload, &e); err != nil {
		return nil, err
	}
	typ := or(e.Type, eventType)
	state, ok := vercelStates[typ]
	if !ok {
		return nil, nil
	}
	p := e.Payload
	var (
		id, name, host, inspector string
		meta                      map[string]string
	)
	if d := p.Deployment; d != nil {
		id, name, host, inspector, meta = d.ID, d.Name, d.URL, d.InspectorURL, d.Meta
	}
	id, name, host = or(id, p.DeploymentID), or(name, p.Name), or(host, p.URL)
	if id == "" {
		return nil, missing("payload.deployment.id")
	}
	target := "preview"
	if p.Target != nil && *p.Target != "" {
		target = *p.Target
	}
	md := types.Object{"deploymentId": id, "state": state, "target": target}
	if p.Project != nil && p.Project.ID != "" {
		md["projectId"] = p.Project.ID
	} else if p.ProjectID != "" {
		md["projectId"] = p.ProjectID
	}
	if name != "" {
		md["project"] = name
	}
	if host != "" {
		md["deploymentUrl"] = "https://" + host
	}
	var body string
	if sha := meta["githubCommitSha"]; sha != "" {
		md["commitSha"] = sha
		md["branch"] = meta["githubCommitRef"]
		body = firstLine(meta["githubCommitMessage"])
	}
	var actor *types.Actor
	switch {
	case meta["githubCommitAuthorLogin"] != "":
		actor = &types.Actor{Login: meta["githubCommitAuthorLogin"], Name: or(meta["githubCommitAuthorName"], meta["githubCommitAuthorLogin"])}
	case p.User != nil && p.User.ID != "":
		actor = &types.Actor{ID: p.User.ID}
	}
	url := or(p.Links.Deployment, inspector)
	if url == "" && host != "" {
		url = "https://" + host
	}
	var at time.Time
	if e.CreatedAt > 0 {
		at = time.UnixMilli(e.CreatedAt)
	}
	return []Observation{{
		SourceType: "deployment." + state,
		SourceID:   VercelDeploymentSourceID(id, state),
		Title:      fmt.Sprintf("%s deployment of %s %s", capitalize(target), or(name, id), vercelVerbs[state]),
		Body:       body,
		Actor:      actor,
		URL:        url,
		OccurredAt: firstTime(at, receivedAt),
		Metadata:   md,
	}}, nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	if c := s[0]; c >= 'a' && c <= 'z' {
		return string(c-'a'+'A') + s[1:]
	}
	return s
}
