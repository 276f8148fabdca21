package probe

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"
)

// execWaitDelay bounds how long we wait for the command's output pipes after
// it is killed, in case a grandchild escaped the kill and holds them open.
const execWaitDelay = 500 * time.Millisecond

// probeExec runs the command with no stdin and its output discarded: output
// could hold anything, so it never reaches a Result.
func probeExec(ctx context.Context, a *ExecAction) (string, error) {
	cmd := exec.CommandContext(ctx, a.Command[0], a.Command[1:]...)
	killGroup(cmd)
	cmd.WaitDelay = execWaitDelay
	err := cmd.Run()
	if err == nil {
		return "exit 0", nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return "", fmt.Errorf("exit %d", ee.ExitCode())
	}
	return "", fmt.Errorf("exec: %w", err)
}
