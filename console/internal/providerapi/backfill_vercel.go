package providerapi

import (
	"context"
	"net/http"
	"strconv"
)

// VercelCreator is the user who created a deployment.
type VercelCreator struct {
	UID         string `json:"uid"`
	Username    string `json:"username"`
	Email       string `json:"email"`
	GitHubLogin string `json:"githubLogin"`
}

// VercelDeployment is an item of GET /v6/deployments. Times are Unix milliseconds.
type VercelDeployment struct {
	UID          string            `json:"uid"`
	Name         string            `json:"name"`
	URL          string            `json:"url"`
	Created      int64             `json:"created"`
	Ready        *int64            `json:"ready"`
	State        string            `json:"state"`
	ReadyState   string            `json:"readyState"`
	Target       *string           `json:"target"`
	ProjectID    string            `json:"projectId"`
	InspectorURL string            `json:"inspectorUrl"`
	Creator      VercelCreator     `json:"creator"`
	Meta         map[string]string `json:"meta"`
}

// VercelDeploymentPage is one page of deployments.
type VercelDeploymentPage struct {
	Deployments []VercelDeployment
	// Next is the `until` value of the following page (pagination.next); empty on the last page.
	Next string
}

// ListDeployments returns one page of project projectID's deployments, newest first, created after
// sinceMs (Unix milliseconds; all when 0). teamID scopes the call for team installations; until is the
// Next of the previous page ("" for the first).
func (v *Vercel) ListDeployments(ctx context.Context, token, teamID, projectID string, sinceMs int64, until string, limit int) (VercelDeploymentPage, error) {
	const op = "list deployments"
	if until != "" {
		if _, err := strconv.ParseInt(until, 10, 64); err != nil {
			return VercelDeploymentPage{}, &Error{Provider: v.c.provider, Op: op, Message: "bad page cursor"}
		}
	}
	q := map[string]string{
		"teamId": teamID, "projectId": projectID, "until": until,
		"limit": strconv.Itoa(clamp(limit, vercelDefaultLimit, vercelMaxLimit)),
	}
	if sinceMs > 0 {
		q["since"] = strconv.FormatInt(sinceMs, 10)
	}
	resp, err := v.c.do(ctx, request{op: op, method: http.MethodGet, path: "/v6/deployments", token: token, query: q}, v.rateLimited)
	if err != nil {
		return VercelDeploymentPage{}, err
	}
	var body struct {
		Deployments []VercelDeployment `json:"deployments"`
		Pagination  struct {
			Next *int64 `json:"next"`
		} `json:"pagination"`
	}
	if err := v.c.decode(op, resp, &body); err != nil {
		return VercelDeploymentPage{}, err
	}
	out := VercelDeploymentPage{Deployments: body.Deployments}
	if body.Pagination.Next != nil {
		out.Next = strconv.FormatInt(*body.Pagination.Next, 10)
	}
	return out, nil
}
