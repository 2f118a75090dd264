package transform

import (
	"fmt"

	"github.com/tidwall/gjson"
)

// GitHubScope is what sync_config's branch and path rules look at in a GitHub delivery.
type GitHubScope struct {
	// HasBranch is true for a branch push and a pull request; false for tags and other events, which
	// the branch rule does not apply to.
	HasBranch bool
	// Branch is the pushed branch, or the branch a pull request merges into (its base).
	Branch string
	// IsPush is true for push events: only they carry the files the path rule looks at.
	IsPush bool
	// Files are the paths the push's commits added, modified or removed, in payload order (repeats
	// kept: deduplicating would cost more than the matcher saves).
	Files []string
}

// GitHubDeliveryScope reads the branch and the touched files of a GitHub push or pull_request delivery;
// other events have no scope (the zero value). eventType is the delivery's event_type. It picks the few
// fields out with gjson instead of decoding the payload: every push and pull request pays for this read
// on top of its transform.
func GitHubDeliveryScope(eventType string, payload []byte) (GitHubScope, error) {
	event := BaseEvent(eventType)
	if event != "push" && event != "pull_request" {
		return GitHubScope{}, nil
	}
	if !gjson.ValidBytes(payload) {
		return GitHubScope{}, fmt.Errorf("%w: malformed JSON", ErrInvalidPayload)
	}
	var s GitHubScope
	if event == "pull_request" {
		if base := gjson.GetBytes(payload, "pull_request.base.ref"); base.Type == gjson.String && base.Str != "" {
			s.HasBranch, s.Branch = true, base.Str
		}
		return s, nil
	}
	s.IsPush = true
	got := gjson.GetManyBytes(payload, "ref", "commits")
	if kind, name := refName(got[0].Str); kind == "branch" {
		s.HasBranch, s.Branch = true, name
	}
	got[1].ForEach(func(_, commit gjson.Result) bool {
		for _, list := range []string{"added", "modified", "removed"} {
			commit.Get(list).ForEach(func(_, f gjson.Result) bool {
				if f.Type == gjson.String {
					s.Files = append(s.Files, f.Str)
				}
				return true
			})
		}
		return true
	})
	return s, nil
}
