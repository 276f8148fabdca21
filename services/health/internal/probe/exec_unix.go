//go:build unix

package probe

import (
	"os/exec"
	"syscall"
)

// killGroup puts the command in its own process group and kills the whole
// group at the timeout, so `sh -c 'sleep 60'` does not leave sleep running.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
