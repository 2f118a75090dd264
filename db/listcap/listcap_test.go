package listcap_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/listcap"
)

func TestUniqueKeepsFirstOccurrenceOrder(t *testing.T) {
	got, err := listcap.Unique([]string{"b", "a", "b", "c", "a"}, 5)
	require.NoError(t, err)
	require.Equal(t, []string{"b", "a", "c"}, got)

	got, err = listcap.Unique([]string{}, 0)
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestUniqueRefusesOverCapBeforeDeduplicating(t *testing.T) {
	// Three copies of one id are still three items: the cap is on what the caller sent.
	_, err := listcap.Unique([]int{7, 7, 7}, 2)
	var tooMany *listcap.TooManyError
	require.True(t, errors.As(err, &tooMany))
	require.Equal(t, listcap.TooManyError{Got: 3, Max: 2}, *tooMany)
	require.Equal(t, "3 items, at most 2 allowed", err.Error())
	require.NoError(t, listcap.Check(2, 2))
}

// BenchmarkUnique is the de-duplication of a full 1,000-id list (the replay cap): linear, so a list at
// its cap costs microseconds.
func BenchmarkUnique(b *testing.B) {
	ids := make([]int, 1000)
	for i := range ids {
		ids[i] = i % 500
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := listcap.Unique(ids, len(ids)); err != nil {
			b.Fatal(err)
		}
	}
}
