// Package github is the gateway's GitHub App client: App JWTs, installation tokens, installation
// details, and the user authorization that proves the installing user can see an installation and
// administers the account it is on.
package github

import (
	"context"
	"crypto/rsa"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lightfastai/connections/db/secrets"
	"github.com/lightfastai/connections/db/types"
	"github.com/lightfastai/connections/gateway/internal/providers"
)

const provider = "github"

// Config is the GitHub App.
type Config struct {
	AppID        string
	AppSlug      string
	PrivateKey   *rsa.PrivateKey
	ClientID     string
	ClientSecret secrets.Secret
	// APIURL is the REST API base (https://api.github.com); WebURL the site (https://github.com).
	APIURL string
	WebURL string
}

// Client calls GitHub as the App.
type Client struct {
	cfg  Config
	http *http.Client
	now  func() time.Time
}

// New returns a client. hc should come from providers.NewHTTPClient.
func New(cfg Config, hc *http.Client) *Client {
	return &Client{cfg: cfg, http: hc, now: time.Now}
}

// InstallURL is where the browser installs the App; GitHub passes state on to the setup URL.
func (c *Client) InstallURL(state string) string {
	return c.cfg.WebURL + "/apps/" + url.PathEscape(c.cfg.AppSlug) + "/installations/new?" +
		url.Values{"state": {state}}.Encode()
}

// AppJWT signs a JWT that authenticates as the App: RS256, issued a minute ago against clock drift,
// expiring in nine minutes (GitHub refuses more than ten).
func (c *Client) AppJWT() (string, error) {
	now := c.now()
	claims := jwt.RegisteredClaims{
		Issuer:    c.cfg.AppID,
		IssuedAt:  jwt.NewNumericDate(now.Add(-60 * time.Second)),
		ExpiresAt: jwt.NewNumericDate(now.Add(9 * time.Minute)),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(c.cfg.PrivateKey)
	if err != nil {
		return "", fmt.Errorf("github: sign app jwt: %w", err)
	}
	return signed, nil
}

func (c *Client) apiHeader(token string) http.Header {
	return http.Header{
		"Accept":               {"application/vnd.github+json"},
		"X-Github-Api-Version": {"2022-11-28"},
		"Authorization":        {"Bearer " + token},
	}
}

// ExchangeCode trades the user authorization code of the setup callback for a user-to-server token.
// GitHub answers failures with 200 and an error field; a refused code is providers.ErrInvalidGrant.
func (c *Client) ExchangeCode(ctx context.Context, code string) (secrets.Secret, error) {
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	_, err := providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: "code exchange", Method: http.MethodPost,
		URL: c.cfg.WebURL + "/login/oauth/access_token",
		Body: url.Values{
			"client_id": {c.cfg.ClientID}, "client_secret": {c.cfg.ClientSecret.Reveal()}, "code": {code},
		},
		Out: &out,
	})
	if err != nil {
		return "", err
	}
	switch {
	case out.Error == "bad_verification_code":
		return "", fmt.Errorf("github code exchange: %w", providers.ErrInvalidGrant)
	case out.Error != "":
		return "", &providers.Error{Provider: provider, Op: "code exchange", Status: http.StatusOK, Code: providers.SafeCode(out.Error)}
	case out.AccessToken == "":
		return "", &providers.Error{Provider: provider, Op: "code exchange", Status: http.StatusOK, Code: "malformed_response"}
	}
	return secrets.Secret(out.AccessToken), nil
}

// UserCanSee reports whether installation id is among the installations the user token can access
// (GET /user/installations, every page): the check that stops a spoofed installation_id.
func (c *Client) UserCanSee(ctx context.Context, userToken secrets.Secret, id int64) (bool, error) {
	next := c.cfg.APIURL + "/user/installations?per_page=100"
	for pages := 0; next != "" && pages < 100; pages++ {
		var out struct {
			Installations []struct {
				ID int64 `json:"id"`
			} `json:"installations"`
		}
		h, err := providers.Do(ctx, c.http, providers.Call{
			Provider: provider, Op: "list user installations", Method: http.MethodGet, URL: next,
			Header: c.apiHeader(userToken.Reveal()), Out: &out,
		})
		if err != nil {
			return false, err
		}
		for _, inst := range out.Installations {
			if inst.ID == id {
				return true, nil
			}
		}
		next = providers.NextLink(h)
		if next != "" && !providers.SameOrigin(c.cfg.APIURL, next) {
			return false, &providers.Error{Provider: provider, Op: "list user installations", Status: http.StatusOK, Code: "foreign_next_link"}
		}
	}
	return false, nil
}

// OrgMembership is the part of GET /user/memberships/orgs/{org} that decides who administers an
// organization: state "active" (not an invitation) and role "admin" (an owner).
type OrgMembership struct {
	State string `json:"state"`
	Role  string `json:"role"`
}

// IsActiveAdmin reports whether the membership makes the user an owner of the organization.
func (m OrgMembership) IsActiveAdmin() bool { return m.State == "active" && m.Role == "admin" }

// UserOrgMembership reads the user's membership of organization org with the user token. A user who is
// not a member gets GitHub's 404 (403 when the organization hides it from the App): both are the zero
// membership, which administers nothing.
func (c *Client) UserOrgMembership(ctx context.Context, userToken secrets.Secret, org string) (OrgMembership, error) {
	var out OrgMembership
	_, err := providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: "get org membership", Method: http.MethodGet,
		URL:    c.cfg.APIURL + "/user/memberships/orgs/" + url.PathEscape(org),
		Header: c.apiHeader(userToken.Reveal()), Out: &out,
	})
	if providers.StatusIs(err, http.StatusNotFound, http.StatusForbidden) {
		return OrgMembership{}, nil
	}
	return out, err
}

// UserID returns the id of the user the user token belongs to (GET /user).
func (c *Client) UserID(ctx context.Context, userToken secrets.Secret) (int64, error) {
	var out struct {
		ID int64 `json:"id"`
	}
	_, err := providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: "get user", Method: http.MethodGet, URL: c.cfg.APIURL + "/user",
		Header: c.apiHeader(userToken.Reveal()), Out: &out,
	})
	if err == nil && out.ID <= 0 {
		return 0, &providers.Error{Provider: provider, Op: "get user", Status: http.StatusOK, Code: "malformed_response"}
	}
	return out.ID, err
}

// Account is the user or organization an installation is on.
type Account struct {
	Login     string `json:"login"`
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	AvatarURL string `json:"avatar_url"`
}

// Installation is GET /app/installations/{id}.
type Installation struct {
	ID          int64             `json:"id"`
	Account     Account           `json:"account"`
	Permissions map[string]string `json:"permissions"`
	CreatedAt   time.Time         `json:"created_at"`
	SuspendedAt *time.Time        `json:"suspended_at"`
}

// Installation reads an installation with the App JWT.
func (c *Client) Installation(ctx context.Context, id int64) (Installation, error) {
	jwtToken, err := c.AppJWT()
	if err != nil {
		return Installation{}, err
	}
	var out Installation
	_, err = providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: "get installation", Method: http.MethodGet,
		URL:    c.cfg.APIURL + "/app/installations/" + strconv.FormatInt(id, 10),
		Header: c.apiHeader(jwtToken), Out: &out,
	})
	return out, err
}

// MintInstallationToken creates an installation access token (valid one hour) with the App JWT.
func (c *Client) MintInstallationToken(ctx context.Context, id int64) (providers.Token, error) {
	jwtToken, err := c.AppJWT()
	if err != nil {
		return providers.Token{}, err
	}
	var out struct {
		Token       string            `json:"token"`
		ExpiresAt   time.Time         `json:"expires_at"`
		Permissions map[string]string `json:"permissions"`
	}
	_, err = providers.Do(ctx, c.http, providers.Call{
		Provider: provider, Op: "mint installation token", Method: http.MethodPost,
		URL:    c.cfg.APIURL + "/app/installations/" + strconv.FormatInt(id, 10) + "/access_tokens",
		Header: c.apiHeader(jwtToken), Out: &out,
	})
	if err != nil {
		return providers.Token{}, err
	}
	if out.Token == "" || out.ExpiresAt.IsZero() {
		return providers.Token{}, &providers.Error{Provider: provider, Op: "mint installation token", Status: http.StatusCreated, Code: "malformed_response"}
	}
	exp := out.ExpiresAt
	// The token's scope is the installation's permissions as GitHub granted them at this mint.
	return providers.Token{AccessToken: secrets.Secret(out.Token), ExpiresAt: &exp, TokenType: "bearer",
		Scope: types.FormatGitHubPermissions(out.Permissions)}, nil
}

// Refresh mints a new installation token for the installation with external id externalID. GitHub
// installation tokens are minted, not refreshed, so there is no refresh token.
func (c *Client) Refresh(ctx context.Context, externalID string, _ secrets.Secret) (providers.Token, error) {
	id, err := ParseInstallationID(externalID)
	if err != nil {
		return providers.Token{}, err
	}
	return c.MintInstallationToken(ctx, id)
}

// ParseInstallationID validates a GitHub installation id.
func ParseInstallationID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("github: installation id %q is not a positive number", s)
	}
	return id, nil
}
