package connect

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/lightfastai/connections/db/dbq"
	"github.com/lightfastai/connections/db/oauthstate"
	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/providers/github"
)

// githubFlow installs the GitHub App. The setup callback's installation_id is only a claim: the user
// authorization code proves which installations the installing user can see, and whether they administer
// the account the installation is on.
type githubFlow struct{ client *github.Client }

func (f githubFlow) AuthorizeURL(token string, _ oauthstate.State) string {
	return f.client.InstallURL(token)
}

func (f githubFlow) Exchange(ctx context.Context, q url.Values, _ oauthstate.State) (*Connection, error) {
	raw, err := required(q, "installation_id")
	if err != nil {
		return nil, err
	}
	id, err := github.ParseInstallationID(raw)
	if err != nil {
		return nil, badRequest("invalid_parameter", "installation_id is not a GitHub installation id")
	}
	code := q.Get("code")
	if code == "" {
		// Without the user's code nothing proves the installation is theirs.
		return nil, badRequest("missing_parameter", "the callback has no code; enable \"Request user authorization (OAuth) during installation\"")
	}
	userToken, err := f.client.ExchangeCode(ctx, code)
	if err != nil {
		return nil, err
	}
	visible, err := f.client.UserCanSee(ctx, userToken, id)
	if err != nil {
		return nil, err
	}
	if !visible {
		return nil, forbidden("installation_not_accessible", "this GitHub installation is not one of yours")
	}
	inst, err := f.client.Installation(ctx, id)
	if err != nil {
		return nil, err
	}
	// Seeing an installation is not owning it: /user/installations also lists the installations of every
	// organisation where the user can read a single repository (an outside collaborator).
	admin, err := f.administers(ctx, userToken, inst.Account)
	if err != nil {
		return nil, err
	}
	if !admin {
		return nil, &consoleRefusal{code: "installation_not_admin"}
	}
	tok, err := f.client.MintInstallationToken(ctx, id)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	installedAt := inst.CreatedAt
	return &Connection{
		ExternalID:   strconv.FormatInt(id, 10),
		AccountLogin: inst.Account.Login,
		AccountInfo: types.NewGitHubAccountInfo(types.GitHubAccountInfo{Installations: []types.GitHubInstallation{{
			ID:              id,
			AccountID:       inst.Account.ID,
			AccountLogin:    inst.Account.Login,
			AccountType:     inst.Account.Type,
			AvatarURL:       inst.Account.AvatarURL,
			Permissions:     inst.Permissions,
			InstalledAt:     &installedAt,
			LastValidatedAt: &now,
		}}}),
		Token: tok,
	}, nil
}

// administers reports whether the user of userToken administers the account an installation is on: an
// active owner (role admin) of an organization, or the user account itself.
func (f githubFlow) administers(ctx context.Context, userToken secrets.Secret, account github.Account) (bool, error) {
	switch account.Type {
	case "Organization":
		m, err := f.client.UserOrgMembership(ctx, userToken, account.Login)
		if err != nil {
			return false, err
		}
		return m.IsActiveAdmin(), nil
	case "User":
		id, err := f.client.UserID(ctx, userToken)
		if err != nil {
			return false, err
		}
		return id == account.ID, nil
	}
	return false, nil // an Enterprise or unknown account type: nobody here administers it
}

func (githubFlow) Finish(context.Context, *Connection) error { return nil }

// Revoke does nothing at GitHub: removing the App is the account owner's decision, made on GitHub (its
// installation.deleted webhook then reaches the gateway). The gateway stops minting tokens for a revoked
// installation, and the last one lapses within the hour.
func (githubFlow) Revoke(context.Context, dbq.Installation, secrets.Secret) error { return nil }

// EchoesState implements Flow.
func (githubFlow) EchoesState() bool { return true }
