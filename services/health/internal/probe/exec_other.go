//go:build !unix

package probe

import "os/exec"

// killGroup is a no-op where there are no process groups: CommandContext
// kills the process itself.
func killGroup(*exec.Cmd) {}
