package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/platformportal/portal/platform/natsserver"
	"github.com/platformportal/portal/platform/pgtest"
	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
)

// TestSplitDeployment runs the standalone agents, audit and gateway binaries
// as separate processes sharing a NATS server, a database and an internal
// key, as a deployment that scales them separately does, and drives them
// through REST and /ws. A call straight to the agents service's gRPC port
// needs credentials too: an API token, which it checks with the gateway.
func TestSplitDeployment(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	for _, pkg := range []string{"../../services/agents/cmd/agents", "../../services/audit/cmd/audit", "../../gateway/cmd/gateway"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	ns := natsserver.NewTest(t)
	db := pgtest.NewDatabase(t)
	identityAddr := freeAddr(t)
	env := []string{"DATABASE_URL=" + db, "NATS_URL=" + ns.ClientURL(), "LOG_LEVEL=info",
		"PORTAL_INTERNAL_KEY=" + base64.StdEncoding.EncodeToString([]byte("a split deployment's shared key, 32+ bytes")),
		"PORTAL_IDENTITY_GRPC_TARGET=" + identityAddr,
		"AGENTS_GRPC_ADDR=127.0.0.1:0", "AGENTS_METRICS_ADDR=127.0.0.1:0",
		"AUDIT_GRPC_ADDR=127.0.0.1:0", "AUDIT_METRICS_ADDR=127.0.0.1:0",
		"GATEWAY_HTTP_ADDR=127.0.0.1:0", "GATEWAY_GRPC_ADDR=" + identityAddr}

	for _, b := range []string{"agents", "audit", "gateway"} {
		migrate := exec.Command(filepath.Join(bin, b), "migrate")
		migrate.Env = env
		if out, err := migrate.CombinedOutput(); err != nil {
			t.Fatalf("%s migrate: %v\n%s", b, err, out)
		}
	}
	noKey := exec.Command(filepath.Join(bin, "agents"))
	noKey.Env = []string{"DATABASE_URL=" + db, "NATS_URL=" + ns.ClientURL()}
	if out, err := noKey.CombinedOutput(); err == nil || !strings.Contains(string(out), "PORTAL_INTERNAL_KEY is required") {
		t.Errorf("agents without an internal key: %v, %s; want it refused, naming PORTAL_INTERNAL_KEY", err, out)
	}
	admin := newToken(t, func(k string) string { return map[string]string{"DATABASE_URL": db}[k] }, "split-admin", "admin")

	agentsAddr := startProcess(t, filepath.Join(bin, "agents"), env, "agents serving", "grpc_addr")
	auditAddr := startProcess(t, filepath.Join(bin, "audit"), env, "audit serving", "grpc_addr")
	gwAddr := startProcess(t, filepath.Join(bin, "gateway"), append(env, "AGENTS_GRPC_TARGET="+agentsAddr, "AUDIT_GRPC_TARGET="+auditAddr), "gateway ready", "http_addr")
	base := "http://" + gwAddr
	tokens.Store(gwAddr, admin)
	t.Cleanup(func() { tokens.Delete(gwAddr) })
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

	// Straight to the agents service: refused without credentials, served
	// with an API token (checked with the gateway's identity service).
	conn, err := grpc.NewClient(agentsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := agentsv1.NewAgentServiceClient(conn)
	if _, err := client.ListAgents(context.Background(), &agentsv1.ListAgentsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("ListAgents without credentials = %v; want Unauthenticated", err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+admin)
	if resp, err := client.ListAgents(ctx, &agentsv1.ListAgentsRequest{}); err != nil || resp.GetTotalSize() != 1 {
		t.Errorf("ListAgents with an API token = %v, %v; want the 1 agent", resp, err)
	}

	// The audit service recorded the changes, with their actor.
	eventually(t, 10*time.Second, "the audit log has the agent's creation", func() error {
		var out struct {
			Entries []struct {
				Actor string `json:"actor"`
			} `json:"entries"`
		}
		if code := call(t, "GET", base+"/api/v1/audit/entries?action=portal.agents.v1.AgentCreated", nil, &out); code != 200 {
			return fmt.Errorf("HTTP %d", code)
		}
		if len(out.Entries) != 1 || out.Entries[0].Actor != "token:split-admin" {
			return fmt.Errorf("entries %+v", out.Entries)
		}
		return nil
	})
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// eventually retries cond until it holds or d has passed.
func eventually(t testing.TB, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v after %s", what, err, d)
		}
		time.Sleep(50 * time.Millisecond)
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
