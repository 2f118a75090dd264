package types

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// AccountInfoVersion is the version written into every ProviderAccountInfo.
const AccountInfoVersion = 1

// ProviderAccountInfo is gw_installations.provider_account_info: a union tagged by sourceType. Exactly
// one of the provider fields is set, matching SourceType.
type ProviderAccountInfo struct {
	Version    int
	SourceType Provider
	GitHub     *GitHubAccountInfo
	Vercel     *VercelAccountInfo
	Linear     *LinearAccountInfo
	Sentry     *SentryAccountInfo
}

// GitHubAccountInfo lists the GitHub App installations behind a connection.
type GitHubAccountInfo struct {
	Installations []GitHubInstallation `json:"installations"`
}

// GitHubInstallation is one GitHub App installation as last read from GitHub.
type GitHubInstallation struct {
	ID              int64             `json:"id"`
	AccountID       int64             `json:"accountId"`
	AccountLogin    string            `json:"accountLogin"`
	AccountType     string            `json:"accountType"`
	AvatarURL       string            `json:"avatarUrl,omitempty"`
	Permissions     map[string]string `json:"permissions"`
	InstalledAt     *time.Time        `json:"installedAt,omitempty"`
	LastValidatedAt *time.Time        `json:"lastValidatedAt,omitempty"`
}

// VercelAccountInfo describes a Vercel integration configuration.
type VercelAccountInfo struct {
	UserID          string `json:"userId"`
	TeamID          string `json:"teamId,omitempty"`
	TeamSlug        string `json:"teamSlug,omitempty"`
	ConfigurationID string `json:"configurationId"`
}

// LinearAccountInfo describes the Linear organization a token belongs to.
type LinearAccountInfo struct {
	OrganizationID   string `json:"organizationId"`
	OrganizationName string `json:"organizationName"`
	URLKey           string `json:"urlKey"`
}

// SentryAccountInfo describes a Sentry integration installation.
type SentryAccountInfo struct {
	InstallationUUID string `json:"installationUuid"`
	OrgSlug          string `json:"orgSlug"`
}

// NewGitHubAccountInfo and friends build a correctly tagged union value.
func NewGitHubAccountInfo(v GitHubAccountInfo) *ProviderAccountInfo {
	return &ProviderAccountInfo{Version: AccountInfoVersion, SourceType: GitHub, GitHub: &v}
}

// NewVercelAccountInfo builds a Vercel ProviderAccountInfo.
func NewVercelAccountInfo(v VercelAccountInfo) *ProviderAccountInfo {
	return &ProviderAccountInfo{Version: AccountInfoVersion, SourceType: Vercel, Vercel: &v}
}

// NewLinearAccountInfo builds a Linear ProviderAccountInfo.
func NewLinearAccountInfo(v LinearAccountInfo) *ProviderAccountInfo {
	return &ProviderAccountInfo{Version: AccountInfoVersion, SourceType: Linear, Linear: &v}
}

// NewSentryAccountInfo builds a Sentry ProviderAccountInfo.
func NewSentryAccountInfo(v SentryAccountInfo) *ProviderAccountInfo {
	return &ProviderAccountInfo{Version: AccountInfoVersion, SourceType: Sentry, Sentry: &v}
}

type unionTag struct {
	Version    int      `json:"version"`
	SourceType Provider `json:"sourceType"`
}

// MarshalJSON flattens the variant next to version and sourceType.
func (p ProviderAccountInfo) MarshalJSON() ([]byte, error) {
	var variant any
	switch p.SourceType {
	case GitHub:
		if p.GitHub == nil {
			return nil, errors.New("provider_account_info: github variant missing")
		}
		v := *p.GitHub
		v.Installations = nonNil(v.Installations)
		for i := range v.Installations {
			if v.Installations[i].Permissions == nil {
				v.Installations[i].Permissions = map[string]string{}
			}
		}
		variant = v
	case Vercel:
		variant = p.Vercel
	case Linear:
		variant = p.Linear
	case Sentry:
		variant = p.Sentry
	default:
		return nil, fmt.Errorf("provider_account_info: unknown sourceType %q", p.SourceType)
	}
	if variant == nil {
		return nil, fmt.Errorf("provider_account_info: %s variant missing", p.SourceType)
	}
	return mergeTagged(unionTag{Version: p.Version, SourceType: p.SourceType}, variant)
}

// UnmarshalJSON reads the tag, then the matching variant.
func (p *ProviderAccountInfo) UnmarshalJSON(b []byte) error {
	var tag unionTag
	if err := json.Unmarshal(b, &tag); err != nil {
		return fmt.Errorf("provider_account_info: %w", err)
	}
	*p = ProviderAccountInfo{Version: tag.Version, SourceType: tag.SourceType}
	switch tag.SourceType {
	case GitHub:
		p.GitHub = &GitHubAccountInfo{}
		return wrapDecode("provider_account_info", json.Unmarshal(b, p.GitHub))
	case Vercel:
		p.Vercel = &VercelAccountInfo{}
		return wrapDecode("provider_account_info", json.Unmarshal(b, p.Vercel))
	case Linear:
		p.Linear = &LinearAccountInfo{}
		return wrapDecode("provider_account_info", json.Unmarshal(b, p.Linear))
	case Sentry:
		p.Sentry = &SentryAccountInfo{}
		return wrapDecode("provider_account_info", json.Unmarshal(b, p.Sentry))
	}
	return fmt.Errorf("provider_account_info: unknown sourceType %q", tag.SourceType)
}

// mergeTagged writes tag's fields and variant's fields into one JSON object.
func mergeTagged(tag any, variant any) ([]byte, error) {
	fields := map[string]json.RawMessage{}
	for _, part := range []any{variant, tag} {
		b, err := json.Marshal(part)
		if err != nil {
			return nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
		for k, v := range m {
			fields[k] = v
		}
	}
	return json.Marshal(fields)
}
