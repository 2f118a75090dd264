package providerapi

import (
	"context"
	"time"
)

// LinearUser is the creator of an issue.
type LinearUser struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Email       string `json:"email"`
}

// LinearWorkflowState is an issue's workflow state.
type LinearWorkflowState struct {
	Name string `json:"name"`
	Type string `json:"type"` // backlog, unstarted, started, completed, canceled
}

// LinearIssue is an issue as the team issues connection returns it. CreatedAt and UpdatedAt are kept as
// Linear wrote them: source ids embed updatedAt verbatim, as the webhook carries it.
type LinearIssue struct {
	ID          string              `json:"id"`
	Identifier  string              `json:"identifier"`
	Number      int64               `json:"number"`
	Title       string              `json:"title"`
	Description *string             `json:"description"`
	URL         string              `json:"url"`
	Priority    int                 `json:"priority"`
	CreatedAt   string              `json:"createdAt"`
	UpdatedAt   string              `json:"updatedAt"`
	CompletedAt *string             `json:"completedAt"`
	CanceledAt  *string             `json:"canceledAt"`
	State       LinearWorkflowState `json:"state"`
	Creator     *LinearUser         `json:"creator"`
}

// LinearIssuePage is one page of a team's issues.
type LinearIssuePage struct {
	Issues []LinearIssue
	// EndCursor is the `after` of the following page; empty on the last page.
	EndCursor string
}

const teamIssuesQuery = `query TeamIssues($teamId: String!, $first: Int, $after: String, $since: DateTimeOrDuration) {
  team(id: $teamId) {
    issues(first: $first, after: $after, orderBy: updatedAt, filter: { updatedAt: { gte: $since } }) {
      nodes {
        id identifier number title description url priority createdAt updatedAt completedAt canceledAt
        state { name type }
        creator { id name displayName email }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}`

// ListTeamIssues returns one page of team teamID's issues updated at or after since, most recently
// updated first. after is the EndCursor of the previous page ("" for the first).
func (l *Linear) ListTeamIssues(ctx context.Context, token, teamID string, since time.Time, first int, after string) (LinearIssuePage, error) {
	vars := map[string]any{
		"teamId": teamID,
		"first":  clamp(first, linearDefaultFirst, linearMaxFirst),
		"since":  since.UTC().Format("2006-01-02T15:04:05.000Z"),
	}
	if after != "" {
		vars["after"] = after
	}
	var data struct {
		Team *struct {
			Issues struct {
				Nodes    []LinearIssue `json:"nodes"`
				PageInfo struct {
					HasNextPage bool   `json:"hasNextPage"`
					EndCursor   string `json:"endCursor"`
				} `json:"pageInfo"`
			} `json:"issues"`
		} `json:"team"`
	}
	const op = "list team issues"
	if err := l.query(ctx, op, token, teamIssuesQuery, vars, &data); err != nil {
		return LinearIssuePage{}, err
	}
	if data.Team == nil {
		return LinearIssuePage{}, &Error{Provider: l.c.provider, Op: op, Status: 404, Message: "team not found"}
	}
	out := LinearIssuePage{Issues: data.Team.Issues.Nodes}
	if data.Team.Issues.PageInfo.HasNextPage {
		out.EndCursor = data.Team.Issues.PageInfo.EndCursor
	}
	return out, nil
}
