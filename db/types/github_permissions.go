package types

import (
	"slices"
	"strings"
)

// GitHub App permissions travel with an installation token: GitHub lists them when the token is minted,
// and the gateway keeps them in the token's scope column as "name:level" pairs joined by commas, sorted
// ("contents:read,issues:write"). That lets the console, which holds only the token, tell what the
// installation granted when it last minted one.

// Bounds on a permissions map read from GitHub (it has a few dozen permissions).
const (
	maxGitHubPermissions   = 100
	maxGitHubPermissionLen = 64
)

// FormatGitHubPermissions encodes permissions as a token scope; "" when there are none.
func FormatGitHubPermissions(perms map[string]string) string {
	pairs := make([]string, 0, len(perms))
	for k, v := range perms {
		if validPermission(k) && validPermission(v) {
			pairs = append(pairs, k+":"+v)
		}
	}
	slices.Sort(pairs)
	if len(pairs) > maxGitHubPermissions {
		pairs = pairs[:maxGitHubPermissions]
	}
	return strings.Join(pairs, ",")
}

// ParseGitHubPermissions decodes a token scope written by FormatGitHubPermissions; nil when the scope
// is empty or not of that form.
func ParseGitHubPermissions(scope string) map[string]string {
	if scope == "" {
		return nil
	}
	pairs := strings.Split(scope, ",")
	if len(pairs) > maxGitHubPermissions {
		return nil
	}
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, ":")
		if !ok || !validPermission(k) || !validPermission(v) {
			return nil
		}
		out[k] = v
	}
	return out
}

// validPermission accepts GitHub's permission names and levels: lowercase letters, digits, '_' and '-'.
func validPermission(s string) bool {
	if s == "" || len(s) > maxGitHubPermissionLen {
		return false
	}
	for _, r := range s {
		lower, digit := r >= 'a' && r <= 'z', r >= '0' && r <= '9'
		if !lower && !digit && r != '_' && r != '-' {
			return false
		}
	}
	return true
}
