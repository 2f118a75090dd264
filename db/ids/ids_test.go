package ids_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/ids"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		id := ids.New()
		require.Len(t, id, ids.Length)
		require.True(t, ids.Valid(id), id)
		require.False(t, seen[id], "duplicate id")
		seen[id] = true
	}
	require.False(t, ids.Valid("short"))
	require.False(t, ids.Valid("abcdefghijklmnopqrst!"))
}
