package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/db/platform"
)

// devToken prints an HS256 session token signed with AUTH_DEV_SECRET, for local development and curl. It
// reads only the variables it needs, so it works without a database, and refuses when APP_ENV=production
// (where such tokens are rejected anyway).
func devToken(args []string, env *platform.Env, stdout io.Writer) error {
	fs := flag.NewFlagSet("dev-token", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	user := fs.String("user", "", "user id (sub)")
	org := fs.String("org", "", "organisation id (org_id); empty makes a token without an org")
	role := fs.String("role", auth.RoleAdmin, "organisation role: admin or member")
	ttl := fs.Duration("ttl", 24*time.Hour, "token lifetime")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("dev-token: %w (usage: console dev-token --user U --org O --role admin|member [--ttl 24h])", err)
	}
	if *user == "" {
		return errors.New("dev-token: --user is required")
	}
	appEnv := env.OneOf("APP_ENV", "development", "development", "test", "production")
	secret := env.Required("AUTH_DEV_SECRET")
	issuer := env.String("AUTH_ISSUER", "")
	if err := env.Err(); err != nil {
		return fmt.Errorf("dev-token: %w", err)
	}
	if appEnv == "production" {
		return errors.New("dev-token: development tokens are refused when APP_ENV=production")
	}
	tok, err := auth.SignDevToken(secret, auth.DevTokenOptions{
		Principal: auth.Principal{UserID: *user, OrgID: *org, OrgRole: *role},
		Issuer:    issuer,
		TTL:       *ttl,
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
