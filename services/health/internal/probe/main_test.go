package probe

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests: every
// Scheduler, Runner, server and exec'd command must be cleaned up.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
