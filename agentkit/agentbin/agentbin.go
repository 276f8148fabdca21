// Package agentbin builds the reference agent, for the tests of other modules
// that run it as a real process (provisioning, the portal).
package agentbin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Build compiles cmd/agent into dir and returns the binary's path. It builds
// from this module's source, as its own module (GOWORK=off), so it works the
// same inside the workspace and in a module tested on its own.
func Build(dir string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("agentbin: cannot locate the agentkit source")
	}
	root := filepath.Dir(filepath.Dir(file))
	out := filepath.Join(dir, "agent")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/agent")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the reference agent: %w\n%s", err, b)
	}
	return out, nil
}
