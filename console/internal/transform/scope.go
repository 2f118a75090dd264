package transform

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

// ghScopePayload holds only the fields GitHubDeliveryScope reads from push and pull_request payloads.
type ghScopePayload struct {
	Ref     string `json:"ref"`
	Commits []struct {
		Added    []string `json:"added"`
		Modified []string `json:"modified"`
		Removed  []string `json:"removed"`
	} `json:"commits"`
	PullRequest *struct {
		Base struct {
			Ref string `json:"ref"`
		} `json:"base"`
	} `json:"pull_request"`
}

// GitHubDeliveryScope reads the branch and the touched files of a GitHub push or pull_request delivery;
// other events have no scope (the zero value). eventType is the delivery's event_type.
func GitHubDeliveryScope(eventType string, payload []byte) (GitHubScope, error) {
	event := BaseEvent(eventType)
	if event != "push" && event != "pull_request" {
		return GitHubScope{}, nil
	}
	var p ghScopePayload
	if err := decode(payload, &p); err != nil {
		return GitHubScope{}, err
	}
	var s GitHubScope
	if event == "pull_request" {
		if p.PullRequest != nil && p.PullRequest.Base.Ref != "" {
			s.HasBranch, s.Branch = true, p.PullRequest.Base.Ref
		}
		return s, nil
	}
	s.IsPush = true
	if kind, name := refName(p.Ref); kind == "branch" {
		s.HasBranch, s.Branch = true, name
	}
	for _, c := range p.Commits {
		s.Files = append(s.Files, c.Added...)
		s.Files = append(s.Files, c.Modified...)
		s.Files = append(s.Files, c.Removed...)
	}
	return s, nil
}
