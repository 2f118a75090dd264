package pages

import (
	"errors"
	"net/http"
	"regexp"

	"connectrpc.com/connect"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	consolev1 "github.com/lightfastai/connections/proto/gen/lightfast/console/v1"
)

// connectedData is what /connected shows and posts to its opener.
type connectedData struct {
	Provider string
	// Label is the provider's display name.
	Label          string
	InstallationID string
	// AccountLogin is the provider account that was connected, as the confirmed connection reports it.
	AccountLogin string
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

// Codes /connected reports besides the gateway's.
const (
	// codeConfirmationRefused: ConfirmConnection refused the connection (NotFound): the signed-in user is
	// not the one who started the flow, in this organisation, or the flow took too long.
	codeConfirmationRefused = "confirmation_refused"
	// codeNoOrganization: the session has no active organisation to confirm the connection for.
	codeNoOrganization = "no_organization"
	// codeInvalidCallback: the page's query is not something the gateway sends.
	codeInvalidCallback = "invalid_callback"
	codeServerError     = "server_error"
)

// errorMessages are the texts for the error codes the gateway sends (gateway/internal/connect: redirects
// to /connected, and the links on its refusal pages) and for the confirmation's own.
var errorMessages = map[string]string{
	"access_denied":        "The provider's consent was declined.",
	"installation_claimed": "This installation is already connected to another organisation. It must be disconnected there first.",
	"installation_not_admin": "Only an owner of the GitHub organization, or the owner of the personal account, can connect its " +
		"installation. Having access to some of its repositories is not enough: ask an owner to connect it.",
	"invalid_state": "This browser did not start this connection, or its link was already used or replaced by a newer one. " +
		"Nothing was connected. Start again from the sources page, in this browser.",
	"missing_state":           "The provider did not send back the connect link's state. Nothing was connected. Start again from the sources page.",
	"expired_state":           "The connect link expired (it is valid for 10 minutes). Start again from the sources page.",
	"state_provider_mismatch": "The connect link was made for another provider. Start again from the sources page.",
	"installation_not_accessible": "The provider says this installation is not one the consenting user can access. " +
		"Nothing was connected.",
	"installation_mismatch": "The provider's answer does not match the installation the callback named. Nothing was connected.",
	"missing_parameter":     "The provider's callback was incomplete. Start again from the sources page.",
	"invalid_parameter":     "The provider's callback was malformed. Start again from the sources page.",
	"invalid_code":          "The provider refused the authorization code. Start again from the sources page.",
	"provider_error":        "The provider did not complete the connection. Try again.",
	codeServerError:         "The connection could not be saved. Try again in a moment.",
	codeInvalidCallback:     "The connect flow returned an unexpected answer. Start again from the sources page.",
	codeConfirmationRefused: "This connection was not started by you in this organisation, or it was not completed within " +
		"10 minutes, so nothing was connected and the provider's authorization is being revoked. If you meant to connect " +
		"it, start again from the sources page.",
	codeNoOrganization: "Your session has no active organisation, so the connection could not be confirmed. Select an " +
		"organisation and start again.",
}

func errorMessage(code string) string {
	if m, ok := errorMessages[code]; ok {
		return m
	}
	return "The connection failed (" + code + ")."
}

// connected is where the gateway's callback sends the popup. A successful callback leaves the connection
// pending: this page confirms it under the signed-in session (ConnectionService.ConfirmConnection), which
// activates it only for the user, in the organisation, who started the flow. It then reports the result
// to the window that opened it and closes. Its query is attacker-controllable (anyone can link here), so
// every value is checked against what the gateway sends, and the result only ever goes to the console's
// own origin.
func (p *Pages) connected(c echo.Context) error {
	d := connectedData{Provider: c.QueryParam("provider")}
	if info, ok := providerByName[d.Provider]; ok {
		d.Label = info.Label
	} else {
		d.Provider = ""
	}
	code, id := c.QueryParam("error"), c.QueryParam("installationId")
	switch {
	case code != "":
		if !errorCodePattern.MatchString(code) {
			code = codeInvalidCallback
		}
		d.Error = code
	case d.Provider == "" || !installationIDPattern.MatchString(id):
		d.Error = codeInvalidCallback
	default:
		return p.confirm(c, d, id)
	}
	return p.renderConnected(c, d)
}

// confirm confirms installation id for the session and renders the outcome. Without a session the user
// signs in first and comes back here.
func (p *Pages) confirm(c echo.Context, d connectedData, id string) error {
	ctx, _, ok, err := p.session(c)
	if !ok {
		return err
	}
	res, err := p.svc.Connections.ConfirmConnection(ctx, connect.NewRequest(&consolev1.ConfirmConnectionRequest{InstallationId: id}))
	var ce *connect.Error
	switch {
	case err == nil:
		conn := res.Msg.GetConnection()
		if providerName(conn.GetProvider()) != d.Provider {
			// The link named another provider than the connection has: report the real one.
			d.Provider = providerName(conn.GetProvider())
			d.Label = providerByName[d.Provider].Label
		}
		d.InstallationID, d.AccountLogin = conn.GetInstallationId(), conn.GetAccountLogin()
	case errors.As(err, &ce) && ce.Code() == connect.CodeUnauthenticated:
		return p.toSignIn(c)
	case errors.As(err, &ce) && ce.Code() == connect.CodeNotFound:
		d.Error = codeConfirmationRefused
	case errors.As(err, &ce) && ce.Code() == connect.CodePermissionDenied:
		d.Error = codeNoOrganization
	default:
		p.log.Error("confirm connection failed", zap.Error(err))
		d.Error = codeServerError
	}
	return p.renderConnected(c, d)
}

func (p *Pages) renderConnected(c echo.Context, d connectedData) error {
	status := http.StatusOK
	if d.Error != "" {
		d.Message = errorMessage(d.Error)
	}
	switch d.Error {
	case codeInvalidCallback:
		// Not something the gateway sends: a hand-made or tampered link.
		status = http.StatusBadRequest
	case codeServerError:
		status = http.StatusInternalServerError
	}
	return p.render(c, status, "connected", page{Title: "Connection", Data: d})
}
