package types

import (
	"encoding/json"
	"reflect"
	"strconv"
)

// githubID is a GitHub numeric id inside a JSON column. It is written as a numeric string, the shape the
// seed gives installationId, repoId, installations[].id and accountId (SPEC §4.1, §4.7), and read from
// either a string or a JSON number, so rows written either way decode. The Go fields stay int64.
type githubID int64

// MarshalJSON writes the id as a numeric string.
func (id githubID) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, strconv.FormatInt(int64(id), 10)), nil
}

// UnmarshalJSON accepts "186853002" or 186853002; null leaves the id as it is, like encoding/json does.
func (id *githubID) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// A type error gets the field's name added by encoding/json ("… field .repoId of type int64").
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[int64]()}
	}
	*id = githubID(n)
	return nil
}

// jsonKind names what a JSON value is, for an error (never more than a short prefix of a string).
func jsonKind(b []byte) string {
	switch {
	case len(b) == 0:
		return "nothing"
	case b[0] == '"':
		return "non-numeric string"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array"
	case b[0] == 't' || b[0] == 'f':
		return "bool"
	}
	return "number " + string(b[:min(len(b), 24)])
}

// githubResourceMetaJSON shadows GitHubResourceMeta's id fields with their JSON shape: fields of the outer
// struct win over the embedded ones of the same name.
type githubResourceMetaJSON struct {
	plainGitHubResourceMeta
	InstallationID githubID `json:"installationId"`
	RepoID         githubID `json:"repoId"`
}

type plainGitHubResourceMeta GitHubResourceMeta

// MarshalJSON writes installationId and repoId as numeric strings.
func (m GitHubResourceMeta) MarshalJSON() ([]byte, error) {
	return json.Marshal(githubResourceMetaJSON{plainGitHubResourceMeta(m), githubID(m.InstallationID), githubID(m.RepoID)})
}

// UnmarshalJSON reads installationId and repoId as numeric strings or numbers.
func (m *GitHubResourceMeta) UnmarshalJSON(b []byte) error {
	var v githubResourceMetaJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*m = GitHubResourceMeta(v.plainGitHubResourceMeta)
	m.InstallationID, m.RepoID = int64(v.InstallationID), int64(v.RepoID)
	return nil
}

type githubInstallationJSON struct {
	plainGitHubInstallation
	ID        githubID `json:"id"`
	AccountID githubID `json:"accountId"`
}

type plainGitHubInstallation GitHubInstallation

// MarshalJSON writes id and accountId as numeric strings.
func (g GitHubInstallation) MarshalJSON() ([]byte, error) {
	return json.Marshal(githubInstallationJSON{plainGitHubInstallation(g), githubID(g.ID), githubID(g.AccountID)})
}

// UnmarshalJSON reads id and accountId as numeric strings or numbers.
func (g *GitHubInstallation) UnmarshalJSON(b []byte) error {
	var v githubInstallationJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*g = GitHubInstallation(v.plainGitHubInstallation)
	g.ID, g.AccountID = int64(v.ID), int64(v.AccountID)
	return nil
}
