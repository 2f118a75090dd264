//go:build e2e

package e2e

import (
	"testing"

	"github.com/lightfastai/connections/console/internal/stacktest"
)

// startStack runs the simulator, gateway and console binaries on a fresh database (console/internal/stacktest).
func startStack(t *testing.T) *stacktest.Stack { return stacktest.Start(t, nil) }
