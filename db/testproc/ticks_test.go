package testproc_test

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lightfastai/connections/db/testproc"
)

// TestTicksGrowWithWork: after burning CPU, this process's ticks and the machine's busy ticks have grown,
// and busy never exceeds total (the load tests divide by both).
func TestTicksGrowWithWork(t *testing.T) {
	self0 := testproc.CPUTicks(os.Getpid())
	busy0, total0 := testproc.MachineTicks()
	require.Positive(t, total0)
	x := uint64(1)
	require.Eventually(t, func() bool {
		for range 1 << 22 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		return testproc.CPUTicks(os.Getpid()) > self0
	}, 30*time.Second, time.Millisecond, "this process's CPU ticks never grew")
	busy1, total1 := testproc.MachineTicks()
	require.Greater(t, busy1, busy0)
	require.Greater(t, total1, total0)
	require.LessOrEqual(t, busy1-busy0, total1-total0)
	require.Zero(t, testproc.CPUTicks(-1), "an unreadable process reads as 0")
	_ = x
}
