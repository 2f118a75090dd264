package providerapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Linear calls Linear's GraphQL API with an OAuth access token.
type Linear struct{ c caller }

// LinearTeam is a team of the token's workspace.
type LinearTeam struct {
	ID   string `json:"id"`
	Key  string `json:"key"`
	Name string `json:"name"`
}

// LinearTeamPage is one page of teams.
type LinearTeamPage struct {
	Teams []LinearTeam
	// EndCursor is the `after` of the following page; empty on the last page.
	EndCursor string
}

// Linear's connection limits: first defaults to 50 and may not exceed 250.
const (
	linearDefaultFirst = 50
	linearMaxFirst     = 250
)

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (l *Linear) rateLimited(r *response) (time.Time, bool) {
	// Linear answers a used-up budget with a GraphQL error whose code is RATELIMITED (HTTP 400), and
	// says when it resets in X-RateLimit-Requests-Reset (Unix milliseconds).
	if r.status < 400 {
		return time.Time{}, false
	}
	var body struct {
		Errors []gqlError `json:"errors"`
	}
	if json.Unmarshal(r.body, &body) != nil {
		return time.Time{}, false
	}
	for _, e := range body.Errors {
		if code, _ := e.Extensions["code"].(string); code == "RATELIMITED" {
			if t, ok := unixHeader(r.header, "X-RateLimit-Requests-Reset", true); ok {
				return t, true
			}
			return l.c.retryAfter(r.header, time.Minute), true
		}
	}
	return time.Time{}, false
}

// query runs a GraphQL query and decodes its data into out. GraphQL errors in a 200 answer are errors too.
func (l *Linear) query(ctx context.Context, op, token, q string, vars map[string]any, out any) error {
	resp, err := l.c.do(ctx, request{op: op, method: http.MethodPost, path: "/graphql", token: token,
		body: map[string]any{"query": q, "variables": vars}}, l.rateLimited)
	if err != nil {
		return err
	}
	var body struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := l.c.decode(op, resp, &body); err != nil {
		return err
	}
	if len(body.Errors) > 0 {
		return &Error{Provider: l.c.provider, Op: op, Status: resp.status, Message: body.Errors[0].Message}
	}
	return l.c.decode(op, &response{status: resp.status, body: body.Data}, out)
}

const teamsQuery = `query Teams($first: Int, $after: String) {
  teams(first: $first, after: $after) {
    nodes { id key name }
    pageInfo { hasNextPage endCursor }
  }
}`

// ListTeams returns one page of the workspace's teams. after is the EndCursor of the previous page.
func (l *Linear) ListTeams(ctx context.Context, token string, first int, after string) (LinearTeamPage, error) {
	vars := map[string]any{"first": clamp(first, linearDefaultFirst, linearMaxFirst)}
	if after != "" {
		vars["after"] = after
	}
	var data struct {
		Teams struct {
			Nodes    []LinearTeam `json:"nodes"`
			PageInfo struct {
				HasNextPage bool   `json:"hasNextPage"`
				EndCursor   string `json:"endCursor"`
			} `json:"pageInfo"`
		} `json:"teams"`
	}
	if err := l.query(ctx, "list teams", token, teamsQuery, vars, &data); err != nil {
		return LinearTeamPage{}, err
	}
	out := LinearTeamPage{Teams: data.Teams.Nodes}
	if data.Teams.PageInfo.HasNextPage {
		out.EndCursor = data.Teams.PageInfo.EndCursor
	}
	return out, nil
}

// AllTeams pages through every team, up to max.
func (l *Linear) AllTeams(ctx context.Context, token string, max int) ([]LinearTeam, error) {
	var all []LinearTeam
	after := ""
	for {
		p, err := l.ListTeams(ctx, token, linearMaxFirst, after)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Teams...)
		if p.EndCursor == "" || len(all) >= max {
			return all, nil
		}
		after = p.EndCursor
	}
}
