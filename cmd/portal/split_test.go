package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/platformportal/portal/platform/natsserver"
	"github.com/platformportal/portal/platform/pgtest"
)

// TestSplitDeployment runs the standalone agents and gateway binaries as
// separate processes sharing a NATS server and a database, as a deployment
// that scales them separately does, and drives them through REST and /ws.
func TestSplitDeployment(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	for _, pkg := range []string{"../../services/agents/cmd/agents", "../../gateway/cmd/gateway"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	ns := natsserver.NewTest(t)
	db := pgtest.NewDatabase(t)
	env := []string{"DATABASE_URL=" + db, "NATS_URL=" + ns.ClientURL(), "LOG_LEVEL=info",
		"AGENTS_GRPC_ADDR=127.0.0.1:0", "AGENTS_METRICS_ADDR=127.0.0.1:0", "GATEWAY_HTTP_ADDR=127.0.0.1:0"}

	migrate := exec.Command(filepath.Join(bin, "agents"), "migrate")
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("agents migrate: %v\n%s", err, out)
	}
	agentsAddr := startProcess(t, filepath.Join(bin, "agents"), env, "agents serving", "grpc_addr")
	gwAddr := startProcess(t, filepath.Join(bin, "gateway"), append(env, "AGENTS_GRPC_TARGET="+agentsAddr), "gateway ready", "http_addr")
	base := "http://" + gwAddr
	deadline := time.Now().Add(30 * time.Second)
	for call(t, "GET", base+"/readyz", nil, nil) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("split gateway not ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	ws := dialWS(t, base)
	ws.send(map[string]any{"type": "subscribe", "topics": []string{"agents"}})
	ws.next()
	a := create(t, base, "split")
	act(t, base, a, "provision")
	for _, want := range []string{"AGENT_STATE_DRAFT", "AGENT_STATE_PROVISIONED"} {
		if f := ws.event(); f.Data.Agent.State != want {
			t.Fatalf("event %+v; want %s", f, want)
		}
	}
}

// startProcess runs a binary until the test ends and returns the value of
// field in the JSON log line whose msg is ready.
func startProcess(t *testing.T, path string, env []string, ready, field string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path)
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		// Wait reports the cancellation; what matters is a clean exit on SIGINT.
		cmd.Wait() //nolint:errcheck
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited with %d after SIGINT; want 0", filepath.Base(path), code)
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil && line["msg"] == ready {
				v, _ := line[field].(string)
				found <- v
			}
			if testing.Verbose() {
				t.Logf("%s: %s", filepath.Base(path), sc.Bytes())
			}
		}
	}()
	select {
	case v := <-found:
		return v
	case <-time.After(60 * time.Second):
		t.Fatalf("%s: no %q log line after 60s", filepath.Base(path), ready)
		return ""
	}
}
