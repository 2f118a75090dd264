// Package securitytest holds what the security suite's tests in both services share: the open-redirect
// attack strings every redirect parameter is tried with, and the check that a captured log contains none
// of the secret values a run handled. It imports nothing of either service, so both may use it.
package securitytest

import (
	"net/url"
	"strings"
	"testing"
)

// OpenRedirects returns redirect targets an attacker would try against a site whose only legitimate
// redirect target is legit (an absolute URL such as "http://localhost:4107"): other origins, scheme- and
// protocol-relative forms, userinfo and look-alike hosts built from legit's own host, backslash and
// whitespace tricks browsers normalise, and script URLs.
func OpenRedirects(legit string) []string {
	u, err := url.Parse(legit)
	if err != nil || u.Host == "" {
		panic("securitytest: legit must be an absolute URL")
	}
	host := u.Host // e.g. localhost:4107
	name := u.Hostname()
	return []string{
		"https://evil.example",
		"https://evil.example/connected",
		"//evil.example",
		"//evil.example/connected",
		"///evil.example",
		"////evil.example",
		"/\\evil.example",
		"\\\\evil.example",
		"\\/evil.example",
		"/%2F%2Fevil.example",
		"/%5Cevil.example",
		"@evil.example",
		"/@evil.example",
		host + "@evil.example",
		"http://" + host + "@evil.example",
		"http://" + host + ":pw@evil.example/connected",
		"http://" + name + ".evil.example",
		name + ".evil.example",
		"http://" + name + "evil.example",
		"http://evil.example/" + host,
		"http://evil.example?" + host,
		"http://evil.example#" + host,
		"http://evil.example\\@" + host,
		"http://" + host + "%2F@evil.example",
		"https:evil.example",
		"https:/evil.example",
		" //evil.example",
		"\t//evil.example",
		"/\t/evil.example",
		"javascript:alert(1)",
		"JaVaScRiPt:alert(document.domain)",
		"javascript://" + host + "/%0Aalert(1)",
		"data:text/html,<script>alert(1)</script>",
		"vbscript:msgbox(1)",
		"%2F%2Fevil.example",
		"https://evil.example%00." + name,
		"https://evil。example",
	}
}

// RequireNoSecrets fails t when any of secrets (values shorter than 6 bytes are skipped as
// meaningless) appears in logs. It also fails when logs is empty, so a run that logged nothing cannot
// pass by accident.
func RequireNoSecrets(t testing.TB, logs string, secrets ...string) {
	t.Helper()
	if strings.TrimSpace(logs) == "" {
		t.Fatalf("securitytest: no log output to search")
	}
	for _, s := range secrets {
		if len(s) < 6 {
			continue
		}
		if i := strings.Index(logs, s); i >= 0 {
			start, end := max(0, i-80), min(len(logs), i+len(s)+80)
			// Show where, with the secret itself masked.
			t.Fatalf("securitytest: a secret value (%d bytes, starting %q) appears in the logs: …%s…",
				len(s), s[:3], strings.ReplaceAll(logs[start:end], s, "<SECRET>"))
		}
	}
}
