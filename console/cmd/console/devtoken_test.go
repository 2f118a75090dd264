package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/console/internal/auth"
	"github.com/lightfastai/connections/db/platform"
)

func TestDevTokenPrintsAVerifiableToken(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	env := platform.MapEnv(map[string]string{"AUTH_DEV_SECRET": "s3cret", "AUTH_ISSUER": "https://issuer.test"})
	require.NoError(t, devToken([]string{"--user", "user_1", "--org", "org_1", "--role", "admin"}, env, &out))
	v := auth.NewVerifier(auth.Config{DevSecret: "s3cret", Issuer: "https://issuer.test"})
	p, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
	require.NoError(t, err)
	require.Equal(t, auth.Principal{UserID: "user_1", OrgID: "org_1", OrgRole: "admin"}, p)
}

func TestDevTokenRefusals(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"production": {[]string{"--user", "u"}, map[string]string{"AUTH_DEV_SECRET": "s", "APP_ENV": "production"}, "APP_ENV=production"},
		"no secret":  {[]string{"--user", "u"}, map[string]string{}, "AUTH_DEV_SECRET"},
		"no user":    {[]string{"--org", "o"}, map[string]string{"AUTH_DEV_SECRET": "s"}, "--user"},
		"bad flag":   {[]string{"--nope"}, map[string]string{"AUTH_DEV_SECRET": "s"}, "usage"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := devToken(tc.args, platform.MapEnv(tc.env), &out)
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, out.String())
		})
	}
}
