package pages

import (
	"strings"

	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// providerInfo describes one provider on the pages.
type providerInfo struct {
	// Name is the lowercase name the gateway uses in URLs and /connected (github, vercel, linear, sentry).
	Name string
	// Label is the display name.
	Label string
	// Enum is the Connect enum value name, as the JavaScript sends it in JSON.
	Enum string
	// Resources names what is linked (repositories, projects, teams).
	Resources string
	// LinkMethod is the IntegrationService procedure that links them, and LinkField the request's list field.
	LinkMethod, LinkField string
	proto                 consolev1.Provider
}

// providers is the order the sources page shows them in.
var providers = []providerInfo{
	{Name: "github", Label: "GitHub", Resources: "repositories", LinkMethod: "BulkLinkGitHubRepositories", LinkField: "repositories", proto: consolev1.Provider_PROVIDER_GITHUB},
	{Name: "vercel", Label: "Vercel", Resources: "projects", LinkMethod: "BulkLinkVercelProjects", LinkField: "projects", proto: consolev1.Provider_PROVIDER_VERCEL},
	{Name: "linear", Label: "Linear", Resources: "teams", LinkMethod: "BulkLinkLinearTeams", LinkField: "teams", proto: consolev1.Provider_PROVIDER_LINEAR},
	{Name: "sentry", Label: "Sentry", Resources: "projects", LinkMethod: "BulkLinkSentryProjects", LinkField: "projects", proto: consolev1.Provider_PROVIDER_SENTRY},
}

var providerByName = func() map[string]providerInfo {
	m := map[string]providerInfo{}
	for i, p := range providers {
		p.Enum = p.proto.String()
		providers[i] = p
		m[p.Name] = p
	}
	return m
}()

// providerName is the lowercase name of a provider enum ("" when unspecified).
func providerName(p consolev1.Provider) string {
	return strings.ToLower(strings.TrimPrefix(p.String(), "PROVIDER_"))
}
