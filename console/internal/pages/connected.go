package pages

import (
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"
)

// connectedData is what /connected shows and posts to its opener.
type connectedData struct {
	Provider       string
	InstallationID string
	// Error is a machine-readable code (e.g. "installation_claimed"); empty on success.
	Error string
	// Message is the human text for Error.
	Message string
}

var (
	// The gateway sends ids made by db/ids (21 URL-safe characters) and snake_case error codes; anything
	// else did not come from it and is reported as a bad callback rather than passed on.
	installationIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	errorCodePattern      = regexp.MustCompile(`^[a-z0-9_]{1,64}$`)
)

// errorMessages are the texts for the error codes the gateway's callback sends (gateway/internal/connect).
var errorMessages = map[string]string{
	"access_denied":        "The provider's consent was declined.",
	"installation_claimed": "This installation is already connected to another organisation.",
	"invalid_code":         "The provider refused the authorization code. Start again from the sources page.",
	"provider_error":       "The provider did not complete the connection. Try again.",
	"server_error":         "The connection could not be saved. Try again in a moment.",
	"invalid_callback":     "The connect flow returned an unexpected answer. Start again from the sources page.",
}

func errorMessage(code string) string {
	if m, ok := errorMessages[code]; ok {
		return m
	}
	return "The connection failed (" + code + ")."
}

// connected is where the gateway's callback sends the popup: it reports the result to the window that
// opened it and closes. Its query is attacker-controllable (anyone can link here), so every value is
// checked against what the gateway sends, and the result only ever goes to the console's own origin.
func (p *Pages) connected(c echo.Context) error {
	d := connectedData{Provider: c.QueryParam("provider")}
	if _, ok := providerByName[d.Provider]; !ok {
		d.Provider = ""
	}
	code, id := c.QueryParam("error"), c.QueryParam("installationId")
	switch {
	case code != "":
		if !errorCodePattern.MatchString(code) {
			code = "invalid_callback"
		}
		d.Error = code
	case d.Provider == "" || !installationIDPattern.MatchString(id):
		d.Error = "invalid_callback"
	default:
		d.InstallationID = id
	}
	status := http.StatusOK
	if d.Error != "" {
		d.Message = errorMessage(d.Error)
	}
	if d.Error == "invalid_callback" {
		// Not something the gateway sends: a hand-made or tampered link.
		status = http.StatusBadRequest
	}
	return p.render(c, status, "connected", page{Title: "Connection", Data: d})
}
