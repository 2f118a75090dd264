package transform

import (
	"bytes"
	"strings"
)

// ConfigFiles are the repository config files the platform looks for, in order of preference, at the
// root of the default branch.
var ConfigFiles = []string{"lightfast.yml", ".lightfast.yml"}

// configFileMarker is in every config file name.
var configFileMarker = []byte("lightfast.yml")

// PushConfigChange says what a GitHub push did to the repository's config file.
type PushConfigChange struct {
	// RepoID is the repository's GitHub id.
	RepoID int64
	// Branch is the pushed branch ("" for tags).
	Branch string
	// DefaultBranch is the repository's default branch as the payload reports it ("" when it does not).
	DefaultBranch string
	// Touched is true when a commit added, modified or removed a config file.
	Touched bool
	// Present is the config file the push leaves in place ("" when it removed the one it touched). It is
	// a hint: a file the push did not touch is not seen here, which is why a sync re-reads the repository.
	Present string
}

// GitHubPushConfigChange reads the config-file changes in a push payload. It is separate from Transform
// because it drives sync_config rather than an observation. A payload that does not mention
// "lightfast.yml" at all (nearly every push) is answered without decoding it: GitHub's JSON writes file
// paths literally, and this check runs on every push delivery.
func GitHubPushConfigChange(payload []byte) (PushConfigChange, error) {
	if !bytes.Contains(payload, configFileMarker) {
		return PushConfigChange{}, nil
	}
	var p ghPush
	if err := decode(payload, &p); err != nil {
		return PushConfigChange{}, err
	}
	repo, err := p.repo()
	if err != nil {
		return PushConfigChange{}, err
	}
	c := PushConfigChange{RepoID: repo.ID, DefaultBranch: repo.DefaultBranch}
	if kind, name := refName(p.Ref); kind == "branch" {
		c.Branch = name
	}
	// Commits are oldest first; the last change to each file wins.
	present := map[string]bool{}
	for _, commit := range p.Commits {
		for _, list := range []struct {
			paths []string
			there bool
		}{{commit.Added, true}, {commit.Modified, true}, {commit.Removed, false}} {
			for _, path := range list.paths {
				if isConfigFile(path) {
					c.Touched = true
					present[path] = list.there
				}
			}
		}
	}
	for _, f := range ConfigFiles {
		if present[f] {
			c.Present = f
			break
		}
	}
	return c, nil
}

func isConfigFile(path string) bool {
	path = strings.TrimPrefix(path, "/")
	for _, f := range ConfigFiles {
		if path == f {
			return true
		}
	}
	return false
}
