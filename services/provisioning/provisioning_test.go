package provisioning_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/platformportal/portal/agentkit/agentbin"
	"github.com/platformportal/portal/platform/auth/authtest"
	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/natsserver"
	"github.com/platformportal/portal/platform/pgtest"
	"github.com/platformportal/portal/platform/postgres"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
	pb "github.com/platformportal/portal/proto/gen/go/portal/provisioning/v1"
	"github.com/platformportal/portal/services/provisioning"
)

// agentBinary is the reference agent, built once for the package's tests.
var agentBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "provisioning-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if agentBinary, err = agentbin.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ports gives each environment its own range, so parallel tests never
// reserve the same free port.
var ports atomic.Int32

type env struct {
	client  pb.ProvisioningServiceClient
	nc      *nats.Conn
	dbURL   string
	natsURL string
	stop    func() // stops the service (and so its agents)
}

// newEnv runs the provisioning service on the real gRPC stack over a fresh
// database and an in-process NATS server reachable over TCP by the agents.
func newEnv(t *testing.T) *env {
	t.Helper()
	srv := natsserver.NewTest(t)
	e := &env{dbURL: pgtest.NewDatabase(t, pgtest.Migration{Schema: provisioning.Schema, FS: provisioning.Migrations()}),
		natsURL: srv.ClientURL()}
	e.start(t)
	return e
}

func (e *env) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := postgres.Connect(ctx, e.dbURL, 10)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(e.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if _, err := events.EnsureStream(ctx, js, config.NATS{StreamMaxAge: time.Hour, DuplicateWindow: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := events.EnsureLogStream(ctx, js); err != nil {
		t.Fatal(err)
	}
	n := int(ports.Add(1))
	svc, err := provisioning.New(pool, nc, js, provisioning.Config{
		AgentBinary: agentBinary, DataDir: t.TempDir(), PortLow: 40000 + n*100, PortHigh: 40000 + n*100 + 99,
		StartTimeout: 15 * time.Second, AgentNATSURL: e.natsURL,
	}, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	gs, err := grpcserver.New(logging.Discard(), authtest.Guard(testKey))
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); gs.Serve(ctx, lis, time.Second) }() //nolint:errcheck
	go func() { defer wg.Done(); svc.Run(ctx) }()                    //nolint:errcheck
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		authtest.As(testKey, authv1.Role_ROLE_ADMIN))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	e.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		wg.Wait()
		conn.Close()
		nc.Close()
		pool.Close()
	}
	t.Cleanup(e.stop)
	e.client, e.nc = pb.NewProvisioningServiceClient(conn), nc
}

func spec(kind string, cfg map[string]any) *pb.WorkloadSpec {
	id := uuid.NewString()
	s := &pb.WorkloadSpec{AgentId: id, Name: kind + "-" + id[:8], Kind: kind, Version: "1.0.0"}
	if cfg != nil {
		s.Config, _ = structpb.NewStruct(cfg)
	}
	return s
}

// up provisions, deploys and starts a workload.
func (e *env) up(t *testing.T, s *pb.WorkloadSpec) *pb.Workload {
	t.Helper()
	ctx := context.Background()
	if _, err := e.client.ProvisionWorkload(ctx, &pb.ProvisionWorkloadRequest{Spec: s}); err != nil {
		t.Fatalf("provision: %v", err)
	}
	if _, err := e.client.DeployWorkload(ctx, &pb.DeployWorkloadRequest{AgentId: s.GetAgentId()}); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	resp, err := e.client.StartWorkload(ctx, &pb.StartWorkloadRequest{AgentId: s.GetAgentId()})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return resp.GetWorkload()
}

// task sends a task to an agent and returns its result.
func (e *env) task(t *testing.T, agentID, typ string, input any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"type": typ, "input": input})
	msg, err := e.nc.Request("agents."+agentID+".tasks", b, 5*time.Second)
	if err != nil {
		t.Fatalf("task %s to %s: %v", typ, agentID, err)
	}
	var res map[string]any
	if err := json.Unmarshal(msg.Data, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func get(url string) int {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

func pids(w *pb.Workload) []int {
	var out []int
	for _, in := range w.GetInstances() {
		if p, err := strconv.Atoi(in.GetHandle()); err == nil {
			out = append(out, p)
		}
	}
	return out
}

var kinds = []struct {
	kind, task string
	input      any
}{
	{"memory", "remember", map[string]any{"key": "k", "value": "v"}},
	{"orchestration", "run", map[string]any{"steps": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}}},
	{"api", "call", map[string]any{"endpoint": "/x", "payload": map[string]any{"a": 1}}},
	{"data", "transform", map[string]any{"records": []any{1, 2, 3}, "op": "sum"}},
	{"monitoring", "check", map[string]any{"targets": []any{}}},
	{"blank", "echo", map[string]any{"hello": "world"}},
}

// TestFleetOfProcesses starts 14 reference agents as real child processes:
// each answers its health endpoint and processes a task over NATS; after
// stop and remove, no process is left.
func TestFleetOfProcesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	var (
		mu  sync.Mutex
		all []int
		ids []string
		wg  sync.WaitGroup
	)
	start := time.Now()
	for i := range 14 {
		k := kinds[i%len(kinds)]
		s := spec(k.kind, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := e.up(t, s)
			mu.Lock()
			defer mu.Unlock()
			all = append(all, pids(w)...)
			ids = append(ids, s.GetAgentId())
		}()
	}
	wg.Wait()
	t.Logf("14 agents provisioned, deployed, started and ready in %s", time.Since(start))
	if len(all) != 14 {
		t.Fatalf("%d processes; want 14", len(all))
	}
	for i, id := range ids {
		w, err := e.client.GetWorkload(ctx, &pb.GetWorkloadRequest{AgentId: id})
		if err != nil {
			t.Fatal(err)
		}
		in := w.GetWorkload().GetInstances()[0]
		if in.GetState() != "ready" || get("http://"+in.GetAddr()+"/healthz") != 200 {
			t.Errorf("agent %s: instance %v not healthy", id, in)
		}
		k := kinds[0]
		for _, kk := range kinds {
			if strings.HasPrefix(w.GetWorkload().GetSpec().GetName(), kk.kind+"-") {
				k = kk
			}
		}
		input := k.input
		if k.kind == "monitoring" { // check the agent itself
			input = map[string]any{"targets": []any{"http://" + in.GetAddr() + "/healthz"}}
		}
		if res := e.task(t, id, k.task, input); res["ok"] != true {
			t.Errorf("agent %d (%s) task %s: %v", i, k.kind, k.task, res)
		}
	}
	for _, id := range ids {
		if _, err := e.client.StopWorkload(ctx, &pb.StopWorkloadRequest{AgentId: id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range all {
		if alive(p) {
			t.Errorf("process %d still running after stop", p)
		}
	}
	for _, id := range ids {
		if _, err := e.client.RemoveWorkload(ctx, &pb.RemoveWorkloadRequest{AgentId: id}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashRecovery kills a running instance with SIGKILL: the supervisor
// restarts it and it is ready again; the time is reported.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := spec("blank", nil)
	w := e.up(t, s)
	in := w.GetInstances()[0]
	pid, _ := strconv.Atoi(in.GetHandle())
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, err := e.client.GetWorkload(context.Background(), &pb.GetWorkloadRequest{AgentId: s.GetAgentId()})
		if err != nil {
			t.Fatal(err)
		}
		now := w.GetWorkload().GetInstances()[0]
		if now.GetHandle() != "" && now.GetHandle() != in.GetHandle() && get("http://"+now.GetAddr()+"/readyz") == 200 {
			t.Logf("kill -9 to ready again: %s (restarts %d)", time.Since(killed), now.GetRestarts())
			if now.GetRestarts() != 1 {
				t.Errorf("restarts = %d; want 1", now.GetRestarts())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance not back after 10s: %v", now)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if res := e.task(t, s.GetAgentId(), "echo", map[string]any{"x": 1}); res["ok"] != true {
		t.Errorf("task after recovery: %v", res)
	}
}

// failure returns the ErrorInfo reason and class of a provisioning error.
func failure(err error) (code codes.Code, reason, class string) {
	st := status.Convert(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return st.Code(), info.GetReason(), info.GetMetadata()["class"]
		}
	}
	return st.Code(), "", ""
}

// TestFailuresAreClassified: a missing binary, a taken port, impossible
// limits and an agent that never becomes ready each fail with the right
// class, and leave no process behind.
func TestFailuresAreClassified(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()

	t.Run("missing binary", func(t *testing.T) {
		s := spec("blank", nil)
		s.Image = "/nonexistent/agent"
		if _, err := e.client.ProvisionWorkload(ctx, &pb.ProvisionWorkloadRequest{Spec: s}); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.DeployWorkload(ctx, &pb.DeployWorkloadRequest{AgentId: s.GetAgentId()})
		if c, r, cl := failure(err); c != codes.FailedPrecondition || r != "BINARY_NOT_FOUND" || cl != "configuration" {
			t.Fatalf("deploy = %v (%s %s); want BINARY_NOT_FOUND configuration", err, r, cl)
		}
		w, _ := e.client.GetWorkload(ctx, &pb.GetWorkloadRequest{AgentId: s.GetAgentId()})
		if w.GetWorkload().GetLastFailure().GetCode() != "BINARY_NOT_FOUND" {
			t.Errorf("last failure = %v", w.GetWorkload().GetLastFailure())
		}
	})
	t.Run("port taken", func(t *testing.T) {
		s := spec("blank", nil)
		p, err := e.client.ProvisionWorkload(ctx, &pb.ProvisionWorkloadRequest{Spec: s})
		if err != nil {
			t.Fatal(err)
		}
		port := p.GetWorkload().GetSpec().GetPorts()[0]
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if _, err := e.client.DeployWorkload(ctx, &pb.DeployWorkloadRequest{AgentId: s.GetAgentId()}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.StartWorkload(ctx, &pb.StartWorkloadRequest{AgentId: s.GetAgentId()})
		if c, r, cl := failure(err); c != codes.FailedPrecondition || r != "PORT_IN_USE" || cl != "configuration" {
			t.Fatalf("start = %v (%s %s); want PORT_IN_USE configuration", err, r, cl)
		}
		// Provisioning again picks a free port, and then it starts.
		p2, err := e.client.ProvisionWorkload(ctx, &pb.ProvisionWorkloadRequest{Spec: s})
		if err != nil {
			t.Fatal(err)
		}
		if got := p2.GetWorkload().GetSpec().GetPorts()[0]; got == port {
			t.Fatalf("re-provision kept the taken port %d", port)
		}
		e.up(t, s)
	})
	t.Run("impossible limits", func(t *testing.T) {
		s := spec("blank", nil)
		s.Resources = &pb.Resources{MemoryBytes: 1 << 20}
		if _, err := e.client.ProvisionWorkload(ctx, &pb.ProvisionWorkloadRequest{Spec: s}); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.DeployWorkload(ctx, &pb.DeployWorkloadRequest{AgentId: s.GetAgentId()})
		if c, r, cl := failure(err); c != codes.FailedPrecondition || r != "INVALID_LIMITS" || cl != "configuration" {
			t.Fatalf("deploy = %v (%s %s); want INVALID_LIMITS configuration", err, r, cl)
		}
	})
	t.Run("never ready", func(t *testing.T) {
		s := spec("blank", map[string]any{"refuse_ready": true})
		if _, err := e.client.ProvisionWorkload(ctx, &pb.ProvisionWorkloadRequest{Spec: s}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.DeployWorkload(ctx, &pb.DeployWorkloadRequest{AgentId: s.GetAgentId()}); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.StartWorkload(ctx, &pb.StartWorkloadRequest{AgentId: s.GetAgentId(), Timeout: durationpb.New(time.Second)})
		if c, r, cl := failure(err); c != codes.Unavailable || r != "NOT_READY" || cl != "transient" {
			t.Fatalf("start = %v (%s %s); want NOT_READY transient", err, r, cl)
		}
		w, _ := e.client.GetWorkload(ctx, &pb.GetWorkloadRequest{AgentId: s.GetAgentId()})
		for _, in := range w.GetWorkload().GetInstances() {
			if in.GetState() != "stopped" || in.GetHandle() != "" {
				t.Errorf("after a failed start, instance %v still runs", in)
			}
		}
	})
}

func TestLogsAndSuspend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	s := spec("blank", nil)
	s.Replicas = 2
	e.up(t, s)
	logs, err := e.client.TailLogs(ctx, &pb.TailLogsRequest{AgentId: s.GetAgentId()})
	if err != nil || len(logs.GetLines()) == 0 {
		t.Fatalf("TailLogs = %v, %v; want lines", logs, err)
	}
	one, err := e.client.TailLogs(ctx, &pb.TailLogsRequest{AgentId: s.GetAgentId(), Instance: "1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range one.GetLines() {
		if l.GetInstance() != "1" {
			t.Errorf("instance filter let through %v", l)
		}
	}
	errsOnly, err := e.client.TailLogs(ctx, &pb.TailLogsRequest{AgentId: s.GetAgentId(), MinLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range errsOnly.GetLines() {
		if l.GetLevel() != "error" {
			t.Errorf("level filter let through %v", l)
		}
	}

	if _, err := e.client.SuspendWorkload(ctx, &pb.SuspendWorkloadRequest{AgentId: s.GetAgentId()}); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"type": "echo", "input": map[string]any{}})
	deadline := time.Now().Add(5 * time.Second)
	for { // the pause reaches the agents asynchronously
		if _, err := e.nc.Request("agents."+s.GetAgentId()+".tasks", b, 300*time.Millisecond); errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a suspended agent still takes tasks")
		}
	}
	if _, err := e.client.ResumeWorkload(ctx, &pb.ResumeWorkloadRequest{AgentId: s.GetAgentId()}); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		if msg, err := e.nc.Request("agents."+s.GetAgentId()+".tasks", b, 300*time.Millisecond); err == nil && strings.Contains(string(msg.Data), `"ok":true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a resumed agent takes no tasks")
		}
	}
	// A rolling restart keeps the agent serving and replaces both processes.
	before, _ := e.client.GetWorkload(ctx, &pb.GetWorkloadRequest{AgentId: s.GetAgentId()})
	if _, err := e.client.RestartWorkload(ctx, &pb.RestartWorkloadRequest{AgentId: s.GetAgentId()}); err != nil {
		t.Fatal(err)
	}
	after, _ := e.client.GetWorkload(ctx, &pb.GetWorkloadRequest{AgentId: s.GetAgentId()})
	for i, in := range after.GetWorkload().GetInstances() {
		if in.GetHandle() == before.GetWorkload().GetInstances()[i].GetHandle() || in.GetState() != "ready" {
			t.Errorf("instance %d after restart: %v (was %v)", i, in, before.GetWorkload().GetInstances()[i])
		}
	}
}

// TestReconcileAfterRestart: the service stops its agents when it stops, and
// brings the running ones back when it starts again.
func TestReconcileAfterRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := spec("memory", nil)
	w := e.up(t, s)
	old := pids(w)
	e.stop()
	for _, p := range old {
		if alive(p) {
			t.Fatalf("process %d outlived the service", p)
		}
	}
	e.start(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		w, err := e.client.GetWorkload(context.Background(), &pb.GetWorkloadRequest{AgentId: s.GetAgentId()})
		if err == nil && len(w.GetWorkload().GetInstances()) == 1 && w.GetWorkload().GetInstances()[0].GetState() == "ready" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workload not back after restart: %v, %v", w, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res := e.task(t, s.GetAgentId(), "recall", map[string]any{"key": "k"}); res["ok"] != true {
		t.Errorf("task after reconcile: %v", res)
	}
}

// TestMemoryLimit: an agent that leaks memory past its limit is stopped by
// the limit (RLIMIT_DATA) and restarted by the supervisor, rather than
// growing without bound.
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := spec("blank", map[string]any{"leak_mb_per_task": 24})
	s.Resources = &pb.Resources{MemoryBytes: 192 << 20}
	w := e.up(t, s)
	first := pids(w)[0]
	b, _ := json.Marshal(map[string]any{"type": "echo", "input": map[string]any{}})
	deadline := time.Now().Add(20 * time.Second)
	for alive(first) {
		if time.Now().After(deadline) {
			t.Fatalf("agent %d leaked past its 192 MiB limit for 20s without being stopped", first)
		}
		e.nc.Request("agents."+s.GetAgentId()+".tasks", b, time.Second) //nolint:errcheck // it may die mid-task
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		w, err := e.client.GetWorkload(context.Background(), &pb.GetWorkloadRequest{AgentId: s.GetAgentId()})
		if err != nil {
			t.Fatal(err)
		}
		in := w.GetWorkload().GetInstances()[0]
		if in.GetRestarts() >= 1 && in.GetHandle() != "" && in.GetHandle() != strconv.Itoa(first) {
			t.Logf("stopped by the limit (%s), restarted", in.GetLastExit())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not restarted after hitting the limit: %v", in)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testKey signs the identities the tests call with.
var testKey = authtest.Key()
