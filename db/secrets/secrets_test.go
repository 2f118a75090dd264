package secrets_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/secrets"
)

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(b)
}

var field = secrets.Field{Table: "lightfast_gw_tokens", Column: "access_token", RowID: "row1"}

func TestRoundTrip(t *testing.T) {
	kr, err := secrets.ParseKeyring("k1:" + newKey(t))
	require.NoError(t, err)

	ct, err := kr.Encrypt("gho_plaintext", field)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(ct, "v1:k1:"), ct)
	require.NotContains(t, ct, "gho_plaintext")

	pt, err := kr.Decrypt(ct, field)
	require.NoError(t, err)
	require.Equal(t, "gho_plaintext", pt)
}

func TestTwoEncryptionsDiffer(t *testing.T) {
	kr, err := secrets.ParseKeyring("k1:" + newKey(t))
	require.NoError(t, err)
	a, err := kr.Encrypt("same", field)
	require.NoError(t, err)
	b, err := kr.Encrypt("same", field)
	require.NoError(t, err)
	require.NotEqual(t, a, b)
}

func TestRotationDecryptsWithOlderKey(t *testing.T) {
	oldKey, newK := newKey(t), newKey(t)
	before, err := secrets.ParseKeyring("old:" + oldKey)
	require.NoError(t, err)
	ct, err := before.Encrypt("token", field)
	require.NoError(t, err)

	after, err := secrets.ParseKeyring("new:" + newK + ",old:" + oldKey)
	require.NoError(t, err)
	require.Equal(t, "new", after.ActiveKeyID())
	require.True(t, after.NeedsRotation(ct))

	pt, err := after.Decrypt(ct, field)
	require.NoError(t, err)
	require.Equal(t, "token", pt)

	fresh, err := after.Encrypt("token", field)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(fresh, "v1:new:"))
	require.False(t, after.NeedsRotation(fresh))
}

func TestUnknownKeyID(t *testing.T) {
	a, err := secrets.ParseKeyring("a:" + newKey(t))
	require.NoError(t, err)
	b, err := secrets.ParseKeyring("b:" + newKey(t))
	require.NoError(t, err)
	ct, err := a.Encrypt("x", field)
	require.NoError(t, err)
	_, err = b.Decrypt(ct, field)
	require.ErrorIs(t, err, secrets.ErrUnknownKey)
}

func TestTamperedAndMovedCiphertextsFail(t *testing.T) {
	kr, err := secrets.ParseKeyring("k1:" + newKey(t))
	require.NoError(t, err)
	ct, err := kr.Encrypt("secret-value", field)
	require.NoError(t, err)

	// Flip one bit of the sealed bytes.
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ct, "v1:k1:"))
	require.NoError(t, err)
	raw[len(raw)-1] ^= 1
	tampered := "v1:k1:" + base64.StdEncoding.EncodeToString(raw)
	_, err = kr.Decrypt(tampered, field)
	require.ErrorIs(t, err, secrets.ErrDecrypt)

	for name, other := range map[string]secrets.Field{
		"another row":    {Table: field.Table, Column: field.Column, RowID: "row2"},
		"another column": {Table: field.Table, Column: "refresh_token", RowID: field.RowID},
		"another table":  {Table: "lightfast_gw_installations", Column: field.Column, RowID: field.RowID},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := kr.Decrypt(ct, other)
			require.ErrorIs(t, err, secrets.ErrDecrypt)
		})
	}

	for _, bad := range []string{"", "plain", "v2:k1:AAAA", "v1:k1:!!!", "v1:k1:" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		_, err := kr.Decrypt(bad, field)
		require.ErrorIs(t, err, secrets.ErrMalformed, bad)
	}
}

func TestParseKeyringErrorsNameNoKeyMaterial(t *testing.T) {
	key := newKey(t)
	for _, spec := range []string{"", "nokey", "k1:" + base64.StdEncoding.EncodeToString([]byte("too short")), "bad id!:" + key, "k1:" + key + ",k1:" + key} {
		_, err := secrets.ParseKeyring(spec)
		require.Error(t, err, spec)
		require.NotContains(t, err.Error(), key)
	}
}

func TestSecretMasks(t *testing.T) {
	s := secrets.Secret("hunter2")
	require.Equal(t, secrets.Mask, s.String())
	require.NotContains(t, fmt.Sprintf("%v %s %+v %#v", s, s, s, s), "hunter2")
	require.Equal(t, "hunter2", s.Reveal())
}
