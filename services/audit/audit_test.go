package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/platformportal/portal/platform/auth/authtest"
	"github.com/platformportal/portal/platform/config"
	"github.com/platformportal/portal/platform/events"
	"github.com/platformportal/portal/platform/grpcserver"
	"github.com/platformportal/portal/platform/logging"
	"github.com/platformportal/portal/platform/natsserver"
	"github.com/platformportal/portal/platform/pgtest"
	agentsv1 "github.com/platformportal/portal/proto/gen/go/portal/agents/v1"
	auditv1 "github.com/platformportal/portal/proto/gen/go/portal/audit/v1"
	authv1 "github.com/platformportal/portal/proto/gen/go/portal/auth/v1"
	auditsvc "github.com/platformportal/portal/services/audit"
	"github.com/platformportal/portal/services/audit/internal/audit"
	"github.com/platformportal/portal/services/audit/internal/ingest"
	store "github.com/platformportal/portal/services/audit/internal/postgres"
)

type env struct {
	pool   *pgxpool.Pool
	js     jetstream.JetStream
	svc    *auditsvc.Service
	addr   string
	client auditv1.AuditServiceClient // as an admin
}

// newEnv builds the service over a fresh database and an in-process NATS
// server, and serves it on the real gRPC stack. The consumer does not run.
func newEnv(tb testing.TB) *env {
	tb.Helper()
	pool := pgtest.NewPool(tb, pgtest.Migration{Schema: auditsvc.Schema, FS: auditsvc.Migrations()})
	_, js := natsserver.NewTestJetStream(tb)
	if _, err := events.EnsureStream(context.Background(), js, config.NATS{StreamMaxAge: time.Hour, DuplicateWindow: 10 * time.Minute}); err != nil {
		tb.Fatal(err)
	}
	svc, err := auditsvc.New(pool, js, logging.Discard())
	if err != nil {
		tb.Fatal(err)
	}
	addr := serveGRPC(tb, svc)
	return &env{pool: pool, js: js, svc: svc, addr: addr, client: dial(tb, addr, authv1.Role_ROLE_ADMIN)}
}

// testKey signs the test callers' identities.
var testKey = authtest.Key()

// serveGRPC serves svc on a loopback listener and returns its address. It is
// the only place the tests build a gRPC server.
func serveGRPC(tb testing.TB, svc *auditsvc.Service) string {
	tb.Helper()
	srv, err := grpcserver.New(logging.Discard(), authtest.Guard(testKey))
	if err != nil {
		tb.Fatal(err)
	}
	svc.Register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ctx, lis, time.Second) }() //nolint:errcheck
	tb.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String()
}

// dial returns a client calling the service at addr as a user with role.
func dial(tb testing.TB, addr string, role authv1.Role) auditv1.AuditServiceClient {
	tb.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), authtest.As(testKey, role))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return auditv1.NewAuditServiceClient(conn)
}

// run runs the service's consumer until the test ends.
func (e *env) run(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.svc.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run() = %v", err)
		}
	})
}

// event is what a test publishes, as the outbox relay would.
type event struct {
	id       uuid.UUID
	actor    string // "" sends no portal-actor header
	outcome  string // "" sends no portal-outcome header
	resource string
	time     time.Time
	payload  proto.Message
}

func (ev event) msg() *nats.Msg {
	m := nats.NewMsg(events.Subject("agents", "test"))
	m.Header.Set(events.HeaderID, ev.id.String())
	m.Header.Set(events.HeaderSource, "portal/agents")
	m.Header.Set(events.HeaderType, string(proto.MessageName(ev.payload)))
	m.Header.Set(events.HeaderTime, ev.time.UTC().Format(time.RFC3339Nano))
	m.Header.Set(events.HeaderSubject, ev.resource)
	m.Header.Set(events.HeaderContentType, events.ContentType)
	if ev.actor != "" {
		m.Header.Set(events.HeaderActor, ev.actor)
	}
	if ev.outcome != "" {
		m.Header.Set(events.HeaderOutcome, ev.outcome)
	}
	m.Data, _ = proto.Marshal(ev.payload)
	return m
}

var (
	actors   = []string{"alice@example.com", "bob@example.com", "token:deploy-bot", "service:agents"}
	outcomes = []string{"", "success", "failure", "denied"}
	epoch    = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
)

// makeEvents returns n events from several actors, an hour apart from start.
func makeEvents(n int, start time.Time) []event {
	evs := make([]event, n)
	for i := range evs {
		agent := fmt.Sprintf("agent-%03d", i%25)
		var payload proto.Message = &agentsv1.AgentStateChanged{Agent: &agentsv1.Agent{Id: uuid.NewString(), Name: agent}}
		if i%10 == 0 {
			payload = &agentsv1.AgentDeleted{Agent: &agentsv1.Agent{Name: agent}, Actor: actors[i%len(actors)]}
		}
		actor := actors[i%len(actors)]
		if i%50 == 7 {
			actor = "" // recorded as "unknown"
		}
		evs[i] = event{
			id: uuid.New(), actor: actor, outcome: outcomes[i%len(outcomes)],
			resource: "agents/" + agent, time: start.Add(time.Duration(i) * time.Hour), payload: payload,
		}
	}
	return evs
}

func publish(tb testing.TB, js jetstream.JetStream, evs []event) {
	tb.Helper()
	for _, ev := range evs {
		if _, err := js.PublishMsgAsync(ev.msg(), jetstream.WithMsgID(ev.id.String())); err != nil {
			tb.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		tb.Fatal("publishes not acknowledged in 30s")
	}
}

func count(tb testing.TB, pool *pgxpool.Pool) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM audit.entries`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// waitForCount polls until the log holds n entries.
func waitForCount(tb testing.TB, pool *pgxpool.Pool, n int, d time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		got := count(tb, pool)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("audit log holds %d entries after %s, want %d", got, d, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// search pages through a search and returns every entry's seq in order.
func search(t *testing.T, c auditv1.AuditServiceClient, req *auditv1.SearchEntriesRequest) []int64 {
	t.Helper()
	var seqs []int64
	for page := 0; ; page++ {
		resp, err := c.SearchEntries(context.Background(), req)
		if err != nil {
			t.Fatalf("SearchEntries(%v) = %v", req, err)
		}
		for _, e := range resp.GetEntries() {
			seqs = append(seqs, e.GetSeq())
		}
		if resp.GetNextPageToken() == "" {
			return seqs
		}
		if page > 2000 {
			t.Fatal("SearchEntries never ends")
		}
		req = proto.Clone(req).(*auditv1.SearchEntriesRequest)
		req.PageToken = resp.GetNextPageToken()
	}
}

func TestIngestAndSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	evs := makeEvents(1000, epoch)
	publish(t, e.js, evs)
	e.run(t)
	waitForCount(t, e.pool, 1000, time.Minute)

	// Every event, in stream order, with its actor.
	all := search(t, e.client, &auditv1.SearchEntriesRequest{PageSize: 1000, OrderBy: "seq"})
	if len(all) != 1000 {
		t.Fatalf("SearchEntries(all) returned %d entries, want 1000", len(all))
	}
	resp, err := e.client.SearchEntries(context.Background(), &auditv1.SearchEntriesRequest{PageSize: 1000, OrderBy: "seq"})
	if err != nil {
		t.Fatal(err)
	}
	for i, got := range resp.GetEntries() {
		ev := evs[i]
		wantActor, wantOutcome := ev.actor, ev.outcome
		if wantActor == "" {
			wantActor = "unknown"
		}
		if wantOutcome == "" {
			wantOutcome = "success"
		}
		if got.GetSeq() != int64(i+1) || got.GetStreamSeq() != int64(i+1) || got.GetEventId() != ev.id.String() ||
			got.GetActor() != wantActor || got.GetOutcome() != wantOutcome || got.GetResource() != ev.resource ||
			got.GetAction() != string(proto.MessageName(ev.payload)) || !got.GetTime().AsTime().Equal(audit.Normalize(ev.time)) {
			t.Fatalf("entry %d = %v, want event %d %+v", i+1, got, i, ev)
		}
		if name := got.GetDetails().GetFields()["agent"].GetStructValue().GetFields()["name"].GetStringValue(); name != ev.resource[len("agents/"):] {
			t.Errorf("entry %d details = %v, want the payload's agent name %s", i+1, got.GetDetails(), ev.resource)
		}
	}
	if got, want := resp.GetEntries()[1].GetSummary(), "bob@example.com portal.agents.v1.AgentStateChanged agents/agent-001"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}

	// want returns the seqs of the events that match, newest first.
	want := func(match func(i int, ev event) bool) []int64 {
		var seqs []int64
		for i := len(evs) - 1; i >= 0; i-- {
			if match(i, evs[i]) {
				seqs = append(seqs, int64(i+1))
			}
		}
		return seqs
	}
	ts := timestamppb.New
	tests := []struct {
		name string
		req  *auditv1.SearchEntriesRequest
		want []int64
	}{
		{"everything", &auditv1.SearchEntriesRequest{}, want(func(int, event) bool { return true })},
		{"actor", &auditv1.SearchEntriesRequest{Actor: "bob@example.com", PageSize: 17},
			want(func(_ int, ev event) bool { return ev.actor == "bob@example.com" })},
		{"unknown actor", &auditv1.SearchEntriesRequest{Actor: "unknown"}, want(func(_ int, ev event) bool { return ev.actor == "" })},
		{"action", &auditv1.SearchEntriesRequest{Action: "portal.agents.v1.AgentDeleted", PageSize: 7},
			want(func(i int, _ event) bool { return i%10 == 0 })},
		{"resource exact", &auditv1.SearchEntriesRequest{Resource: "agents/agent-003"},
			want(func(_ int, ev event) bool { return ev.resource == "agents/agent-003" })},
		{"resource prefix", &auditv1.SearchEntriesRequest{Resource: "agents/agent-01", PageSize: 100},
			want(func(_ int, ev event) bool { return strings.HasPrefix(ev.resource, "agents/agent-01") })},
		{"resource prefix is not a pattern", &auditv1.SearchEntriesRequest{Resource: "agents/agent_0"}, nil},
		{"outcome", &auditv1.SearchEntriesRequest{Outcome: "denied"}, want(func(_ int, ev event) bool { return ev.outcome == "denied" })},
		{"default outcome", &auditv1.SearchEntriesRequest{Outcome: "success", PageSize: 1000},
			want(func(_ int, ev event) bool { return ev.outcome == "" || ev.outcome == "success" })},
		{"time range", &auditv1.SearchEntriesRequest{StartTime: ts(epoch.Add(100 * time.Hour)), EndTime: ts(epoch.Add(200 * time.Hour))},
			want(func(i int, _ event) bool { return i >= 100 && i < 200 })},
		{"start only", &auditv1.SearchEntriesRequest{StartTime: ts(epoch.Add(990 * time.Hour))}, want(func(i int, _ event) bool { return i >= 990 })},
		{"text: actor", &auditv1.SearchEntriesRequest{Query: "token:deploy-bot"},
			want(func(_ int, ev event) bool { return ev.actor == "token:deploy-bot" })},
		{"text: email", &auditv1.SearchEntriesRequest{Query: "alice@example.com", PageSize: 1000},
			// AgentDeleted payloads name their actor too.
			want(func(i int, ev event) bool { return ev.actor == "alice@example.com" || (i%10 == 0 && i%4 == 0) })},
		{"text: type word", &auditv1.SearchEntriesRequest{Query: "AgentDeleted"}, want(func(i int, _ event) bool { return i%10 == 0 })},
		{"text: details", &auditv1.SearchEntriesRequest{Query: "agent-007"},
			want(func(_ int, ev event) bool { return ev.resource == "agents/agent-007" })},
		{"text and actor", &auditv1.SearchEntriesRequest{Query: "AgentDeleted", Actor: "alice@example.com"},
			want(func(i int, ev event) bool { return i%10 == 0 && ev.actor == "alice@example.com" })},
		{"oldest first", &auditv1.SearchEntriesRequest{Actor: "service:agents", OrderBy: "seq", PageSize: 9},
			func() []int64 {
				s := want(func(_ int, ev event) bool { return ev.actor == "service:agents" })
				slices.Reverse(s)
				return s
			}()},
		{"nothing", &auditv1.SearchEntriesRequest{Actor: "mallory"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := search(t, e.client, tc.req)
			if !slices.Equal(got, tc.want) {
				t.Errorf("SearchEntries(%v) = %d entries %v, want %d %v", tc.req, len(got), head(got), len(tc.want), head(tc.want))
			}
		})
	}

	t.Run("paging visits every entry once", func(t *testing.T) {
		t.Parallel()
		for _, order := range []string{"", "seq"} {
			got := search(t, e.client, &auditv1.SearchEntriesRequest{PageSize: 33, OrderBy: order})
			n := len(got)
			slices.Sort(got)
			got = slices.Compact(got)
			if n != 1000 || len(got) != 1000 || got[0] != 1 || got[999] != 1000 {
				t.Errorf("paging in order %q visited %d entries, %d distinct, want each of 1000 once", order, n, len(got))
			}
		}
	})
	t.Run("get", func(t *testing.T) {
		t.Parallel()
		got, err := e.client.GetEntry(context.Background(), &auditv1.GetEntryRequest{Seq: 500})
		if err != nil || got.GetEntry().GetEventId() != evs[499].id.String() {
			t.Errorf("GetEntry(500) = %v, %v; want event %s", got, err, evs[499].id)
		}
		_, err = e.client.GetEntry(context.Background(), &auditv1.GetEntryRequest{Seq: 1001})
		if status.Code(err) != codes.NotFound {
			t.Errorf("GetEntry(1001) = %v, want NotFound", err)
		}
	})
	t.Run("verify", func(t *testing.T) {
		t.Parallel()
		got, err := e.client.VerifyChain(context.Background(), &auditv1.VerifyChainRequest{})
		if err != nil || !got.GetOk() || got.GetEntriesChecked() != 1000 || got.GetLastSeq() != 1000 {
			t.Errorf("VerifyChain() = %v, %v; want ok over 1000 entries", got, err)
		}
		got, err = e.client.VerifyChain(context.Background(), &auditv1.VerifyChainRequest{StartSeq: 300, EndSeq: 400})
		if err != nil || !got.GetOk() || got.GetEntriesChecked() != 101 {
			t.Errorf("VerifyChain(300..400) = %v, %v; want ok over 101 entries", got, err)
		}
	})
}

func head(s []int64) []int64 {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// tamper runs sql with the triggers off, as a superuser could.
func tamper(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// export runs ExportEntries and returns the whole body and how many messages
// carried it.
func export(t *testing.T, c auditv1.AuditServiceClient, req *auditv1.ExportEntriesRequest) (string, int, error) {
	t.Helper()
	stream, err := c.ExportEntries(context.Background(), req)
	if err != nil {
		return "", 0, err
	}
	var b bytes.Buffer
	n := 0
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return b.String(), n, nil
		}
		if err != nil {
			return "", n, err
		}
		n++
		b.Write(m.GetData())
	}
}

type jsonExport struct {
	StartTime string `json:"start_time"`
	EndTime   string `json:"end_time"`
	Entries   []struct {
		Seq      int64           `json:"seq"`
		Actor    string          `json:"actor"`
		Details  json.RawMessage `json:"details"`
		Verified bool            `json:"verified"`
	} `json:"entries"`
	Verification struct {
		OK             bool   `json:"ok"`
		EntriesChecked int64  `json:"entries_checked"`
		FirstBrokenSeq int64  `json:"first_broken_seq"`
		Reason         string `json:"reason"`
	} `json:"verification"`
}

func TestTamperingDetected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		sql        string
		wantSeq    int64
		wantReason string
		brokenRow  int64 // the row the CSV marks BROKEN
		wantRows   int
	}{
		{"altered", `UPDATE audit.entries SET actor = 'mallory' WHERE seq = 120`, 120, audit.ReasonAltered, 120, 300},
		{"altered details", `UPDATE audit.entries SET details = '{"agent": {"name": "other"}}' WHERE seq = 5`, 5, audit.ReasonAltered, 5, 300},
		{"deleted", `DELETE FROM audit.entries WHERE seq = 200`, 201, audit.ReasonRelink, 201, 299},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			publish(t, e.js, makeEvents(300, epoch))
			e.run(t)
			waitForCount(t, e.pool, 300, time.Minute)
			req := &auditv1.ExportEntriesRequest{StartTime: timestamppb.New(epoch), EndTime: timestamppb.New(epoch.Add(300 * time.Hour))}

			// Intact first.
			v, err := e.client.VerifyChain(context.Background(), &auditv1.VerifyChainRequest{})
			if err != nil || !v.GetOk() {
				t.Fatalf("VerifyChain() before tampering = %v, %v", v, err)
			}
			req.Format = "csv"
			body, _, err := export(t, e.client, req)
			if err != nil || !strings.HasSuffix(body, "# chain verification: ok (300 entries)\n") {
				t.Fatalf("CSV export before tampering = %v, ends %q", err, tail(body))
			}

			tamper(t, e.pool, tc.sql)

			v, err = e.client.VerifyChain(context.Background(), &auditv1.VerifyChainRequest{})
			if err != nil || v.GetOk() || v.GetFirstBrokenSeq() != tc.wantSeq || v.GetReason() != tc.wantReason {
				t.Errorf("VerifyChain() = %v, %v; want broken at %d: %s", v, err, tc.wantSeq, tc.wantReason)
			}
			// A range that starts after the break still checks its first link.
			v, err = e.client.VerifyChain(context.Background(), &auditv1.VerifyChainRequest{StartSeq: tc.wantSeq, EndSeq: tc.wantSeq + 10})
			if err != nil || v.GetOk() || v.GetFirstBrokenSeq() != tc.wantSeq {
				t.Errorf("VerifyChain(%d..) = %v, %v; want broken at %d", tc.wantSeq, v, err, tc.wantSeq)
			}

			// CSV: the row is marked, and the last line says where and why.
			body, _, err = export(t, e.client, req)
			if err != nil {
				t.Fatal(err)
			}
			wantLast := fmt.Sprintf("# chain verification: BROKEN at seq %d: %s\n", tc.wantSeq, tc.wantReason)
			if !strings.HasSuffix(body, wantLast) {
				t.Errorf("CSV export ends %q, want %q", tail(body), wantLast)
			}
			rows, err := csv.NewReader(strings.NewReader(strings.TrimSuffix(body, wantLast))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != tc.wantRows+1 || rows[0][len(rows[0])-1] != "verified" {
				t.Fatalf("CSV export has %d rows (header %v), want %d and a header", len(rows), rows[0], tc.wantRows+1)
			}
			for _, r := range rows[1:] {
				wantMark := "ok"
				if r[0] == fmt.Sprint(tc.brokenRow) {
					wantMark = "BROKEN"
				}
				if r[len(r)-1] != wantMark {
					t.Errorf("CSV row %s verified = %s, want %s", r[0], r[len(r)-1], wantMark)
				}
			}

			// JSON: the same, in the document's verification member.
			req.Format = "json"
			body, _, err = export(t, e.client, req)
			if err != nil {
				t.Fatal(err)
			}
			var doc jsonExport
			if err := json.Unmarshal([]byte(body), &doc); err != nil {
				t.Fatalf("JSON export does not parse: %v", err)
			}
			vj := doc.Verification
			if vj.OK || vj.FirstBrokenSeq != tc.wantSeq || vj.Reason != tc.wantReason || len(doc.Entries) != tc.wantRows {
				t.Errorf("JSON export verification = %+v with %d entries, want broken at %d (%s) with %d", vj, len(doc.Entries), tc.wantSeq, tc.wantReason, tc.wantRows)
			}
			for _, en := range doc.Entries {
				if en.Verified != (en.Seq != tc.brokenRow) {
					t.Errorf("JSON entry %d verified = %t", en.Seq, en.Verified)
				}
			}
		})
	}
}

func tail(s string) string {
	if len(s) > 120 {
		return s[len(s)-120:]
	}
	return s
}

func TestExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	evs := makeEvents(400, epoch)
	// Out of time order: the export follows the chain, not the clock.
	evs[10].time, evs[11].time = evs[11].time, evs[10].time
	publish(t, e.js, evs)
	e.run(t)
	waitForCount(t, e.pool, 400, time.Minute)

	req := &auditv1.ExportEntriesRequest{StartTime: timestamppb.New(epoch.Add(5 * time.Hour)), EndTime: timestamppb.New(epoch.Add(305 * time.Hour)), Format: "json"}
	body, chunks, err := export(t, e.client, req)
	if err != nil {
		t.Fatal(err)
	}
	var doc jsonExport
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("JSON export does not parse: %v\n%s", err, tail(body))
	}
	if len(doc.Entries) != 300 || doc.Entries[0].Seq != 6 || doc.Entries[299].Seq != 305 || !doc.Verification.OK || doc.Verification.EntriesChecked != 300 {
		t.Errorf("JSON export = %d entries from %d, verification %+v; want 300 from 6, ok", len(doc.Entries), doc.Entries[0].Seq, doc.Verification)
	}
	if chunks < 2 {
		t.Errorf("JSON export came in %d messages, want it streamed in several", chunks)
	}
	var details map[string]any
	if err := json.Unmarshal(doc.Entries[0].Details, &details); err != nil || details["agent"] == nil {
		t.Errorf("JSON export details = %s, want the payload", doc.Entries[0].Details)
	}

	empty := &auditv1.ExportEntriesRequest{StartTime: timestamppb.New(epoch.Add(-48 * time.Hour)), EndTime: timestamppb.New(epoch.Add(-24 * time.Hour)), Format: "csv"}
	body, _, err = export(t, e.client, empty)
	if err != nil || !strings.HasSuffix(body, "# chain verification: ok (0 entries)\n") || strings.Count(body, "\n") != 2 {
		t.Errorf("empty CSV export = %v, %q", err, body)
	}
}

func TestAppendOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	publish(t, e.js, makeEvents(3, epoch))
	e.run(t)
	waitForCount(t, e.pool, 3, time.Minute)
	for _, sql := range []string{
		`UPDATE audit.entries SET actor = 'mallory' WHERE seq = 2`,
		`DELETE FROM audit.entries WHERE seq = 2`,
		`TRUNCATE audit.entries`,
	} {
		_, err := e.pool.Exec(context.Background(), sql)
		if err == nil || !strings.Contains(err.Error(), "audit.entries is append-only") {
			t.Errorf("%s = %v, want refused as append-only", sql, err)
		}
	}
	if n := count(t, e.pool); n != 3 {
		t.Errorf("after refused changes the log holds %d entries, want 3", n)
	}
	if v, err := e.client.VerifyChain(context.Background(), &auditv1.VerifyChainRequest{}); err != nil || !v.GetOk() {
		t.Errorf("VerifyChain() = %v, %v", v, err)
	}
}

func TestRestartMidStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	first, second := makeEvents(500, epoch), makeEvents(500, epoch.Add(1000*time.Hour))
	publish(t, e.js, first)

	// A consumer with small batches, stopped after a few of them.
	ctx, cancel := context.WithCancel(context.Background())
	c, err := ingest.New(e.js, store.New(e.pool), logging.Discard(), ingest.Options{Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for count(t, e.pool) < 100 {
		if time.Now().After(deadline) {
			t.Fatal("the first consumer recorded nothing")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() = %v", err)
	}
	stoppedAt := count(t, e.pool)
	if stoppedAt >= 500 {
		t.Fatalf("the first consumer recorded all %d events before it was stopped", stoppedAt)
	}

	publish(t, e.js, second)
	e.run(t) // a new consumer on the same durable
	waitForCount(t, e.pool, 1000, 2*time.Minute)

	var n, distinct, lo, hi int64
	err = e.pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT event_id), min(seq), max(seq) FROM audit.entries`).Scan(&n, &distinct, &lo, &hi)
	if err != nil || n != 1000 || distinct != 1000 || lo != 1 || hi != 1000 {
		t.Errorf("log = %d entries, %d distinct events, seq %d..%d, %v; want 1000 without gaps", n, distinct, lo, hi, err)
	}
	rows, _ := e.pool.Query(context.Background(), `SELECT event_id FROM audit.entries ORDER BY seq`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range append(first, second...) {
		if ids[i] != ev.id {
			t.Fatalf("entry %d is event %s, want %s (stream order)", i+1, ids[i], ev.id)
		}
	}
	if v, err := e.client.VerifyChain(context.Background(), &auditv1.VerifyChainRequest{}); err != nil || !v.GetOk() || v.GetEntriesChecked() != 1000 {
		t.Errorf("VerifyChain() = %v, %v; want ok over 1000", v, err)
	}
	t.Logf("first consumer stopped after %d entries", stoppedAt)
}

func TestRedeliveryRecordedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	evs := makeEvents(5, epoch)
	publish(t, e.js, evs)
	// The same event again, as a relay would send it after JetStream's
	// de-duplication window: another message, the same ce-id.
	again := evs[2].msg()
	if _, err := e.js.PublishMsg(context.Background(), again, jetstream.WithMsgID(evs[2].id.String()+"-again")); err != nil {
		t.Fatal(err)
	}
	publish(t, e.js, makeEvents(1, epoch.Add(time.Hour*100)))
	e.run(t)
	waitForCount(t, e.pool, 6, time.Minute)
	// The consumer has caught up once it has recorded the stream's last message.
	waitForAcked(t, e.pool, 7)
	if n := count(t, e.pool); n != 6 {
		t.Errorf("log holds %d entries, want 6", n)
	}

	// A batch delivered again after a crash between commit and ack.
	st := store.New(e.pool)
	recs := []audit.Record{{EventID: evs[0].id, Time: epoch, Actor: "alice@example.com", Details: []byte(`{}`)},
		{EventID: uuid.New(), Time: epoch, Actor: "alice@example.com", Details: []byte(`{}`)}}
	w, s, err := st.Append(context.Background(), recs)
	if err != nil || w != 1 || s != 1 {
		t.Errorf("Append(one recorded, one new) = %d written, %d skipped, %v; want 1, 1", w, s, err)
	}
	w, s, err = st.Append(context.Background(), recs)
	if err != nil || w != 0 || s != 2 {
		t.Errorf("Append(again) = %d written, %d skipped, %v; want 0, 2", w, s, err)
	}
	if v, err := e.client.VerifyChain(context.Background(), &auditv1.VerifyChainRequest{}); err != nil || !v.GetOk() || v.GetEntriesChecked() != 7 {
		t.Errorf("VerifyChain() = %v, %v; want ok over 7", v, err)
	}
}

// waitForAcked polls until the audit log has recorded the stream up to seq.
func waitForAcked(tb testing.TB, pool *pgxpool.Pool, seq uint64) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pos, err := store.New(pool).Position(context.Background())
		if err == nil && pos >= seq {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("stream not recorded up to %d (at %d, %v)", seq, pos, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMalformedEventRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bare := nats.NewMsg(events.Subject("mystery", "thing"))
	bare.Data = []byte{0xff, 0x00, 0x01}
	bare.Header.Set("x-note", "no ce headers at all")
	if _, err := e.js.PublishMsg(context.Background(), bare); err != nil {
		t.Fatal(err)
	}
	unknown := event{id: uuid.New(), actor: "bob@example.com", resource: "things/1", time: epoch, payload: &agentsv1.AgentDeleted{}}.msg()
	unknown.Header.Set(events.HeaderType, "portal.nothing.v1.Unknown")
	unknown.Data = []byte("\x0a\x03abc")
	if _, err := e.js.PublishMsg(context.Background(), unknown); err != nil {
		t.Fatal(err)
	}
	publish(t, e.js, makeEvents(2, epoch))
	e.run(t)
	waitForCount(t, e.pool, 4, time.Minute)

	resp, err := e.client.SearchEntries(context.Background(), &auditv1.SearchEntriesRequest{OrderBy: "seq"})
	if err != nil {
		t.Fatal(err)
	}
	got := resp.GetEntries()
	if got[0].GetActor() != "unknown" || got[0].GetAction() != "portal.events.mystery.thing" ||
		got[0].GetDetails().GetFields()["payload_base64"].GetStringValue() != "/wAB" ||
		got[0].GetDetails().GetFields()["headers"].GetStructValue().GetFields()["x-note"].GetStringValue() != "no ce headers at all" {
		t.Errorf("malformed event recorded as %v", got[0])
	}
	if got[1].GetAction() != "portal.nothing.v1.Unknown" || got[1].GetDetails().GetFields()["payload_base64"].GetStringValue() != "CgNhYmM=" {
		t.Errorf("event of an unknown type recorded as %v", got[1])
	}
	if v, err := e.client.VerifyChain(context.Background(), &auditv1.VerifyChainRequest{}); err != nil || !v.GetOk() {
		t.Errorf("VerifyChain() = %v, %v", v, err)
	}
}

func TestInvalidArguments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	publish(t, e.js, makeEvents(5, epoch))
	e.run(t)
	waitForCount(t, e.pool, 5, time.Minute)
	resp, err := e.client.SearchEntries(context.Background(), &auditv1.SearchEntriesRequest{Actor: "alice@example.com", PageSize: 1})
	if err != nil || resp.GetNextPageToken() == "" {
		t.Fatalf("SearchEntries() = %v, %v; want a next page", resp, err)
	}
	otherFilter := resp.GetNextPageToken()

	ts := timestamppb.New
	ctx := context.Background()
	tests := []struct {
		name      string
		call      func() error
		wantField string
	}{
		{"page size over the maximum", func() error {
			_, err := e.client.SearchEntries(ctx, &auditv1.SearchEntriesRequest{PageSize: 1001})
			return err
		}, "page_size"},
		{"malformed page token", func() error {
			_, err := e.client.SearchEntries(ctx, &auditv1.SearchEntriesRequest{PageToken: "not a token!"})
			return err
		}, "page_token"},
		{"page token of another filter", func() error {
			_, err := e.client.SearchEntries(ctx, &auditv1.SearchEntriesRequest{Actor: "bob@example.com", PageToken: otherFilter})
			return err
		}, "page_token"},
		{"unknown order", func() error {
			_, err := e.client.SearchEntries(ctx, &auditv1.SearchEntriesRequest{OrderBy: "time"})
			return err
		}, "order_by"},
		{"search end before start", func() error {
			_, err := e.client.SearchEntries(ctx, &auditv1.SearchEntriesRequest{StartTime: ts(epoch), EndTime: ts(epoch.Add(-time.Hour))})
			return err
		}, "end_time"},
		{"verify end before start", func() error {
			_, err := e.client.VerifyChain(ctx, &auditv1.VerifyChainRequest{StartSeq: 5, EndSeq: 2})
			return err
		}, "end_seq"},
		{"get seq 0", func() error {
			_, err := e.client.GetEntry(ctx, &auditv1.GetEntryRequest{})
			return err
		}, "seq"},
		{"export without start", func() error {
			_, _, err := export(t, e.client, &auditv1.ExportEntriesRequest{EndTime: ts(epoch)})
			return err
		}, "start_time"},
		{"export end before start", func() error {
			_, _, err := export(t, e.client, &auditv1.ExportEntriesRequest{StartTime: ts(epoch), EndTime: ts(epoch.Add(-time.Second))})
			return err
		}, "end_time"},
		{"export range over the limit", func() error {
			_, _, err := export(t, e.client, &auditv1.ExportEntriesRequest{StartTime: ts(epoch), EndTime: ts(epoch.Add(367 * 24 * time.Hour))})
			return err
		}, "end_time"},
		{"export unknown format", func() error {
			_, _, err := export(t, e.client, &auditv1.ExportEntriesRequest{StartTime: ts(epoch), EndTime: ts(epoch.Add(time.Hour)), Format: "xml"})
			return err
		}, "format"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.call()
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.wantField) {
				t.Errorf("error = %v, want INVALID_ARGUMENT naming %s", err, tc.wantField)
			}
		})
	}
	// 366 days exactly is allowed.
	if _, _, err := export(t, e.client, &auditv1.ExportEntriesRequest{StartTime: ts(epoch), EndTime: ts(epoch.Add(366 * 24 * time.Hour)), Format: "csv"}); err != nil {
		t.Errorf("export of 366 days = %v", err)
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	day := &auditv1.ExportEntriesRequest{StartTime: timestamppb.New(epoch), EndTime: timestamppb.New(epoch.Add(24 * time.Hour))}
	tests := []struct {
		role       authv1.Role
		wantSearch codes.Code
		wantExport codes.Code
	}{
		{authv1.Role_ROLE_VIEWER, codes.PermissionDenied, codes.PermissionDenied},
		{authv1.Role_ROLE_OPERATOR, codes.OK, codes.PermissionDenied},
		{authv1.Role_ROLE_ADMIN, codes.OK, codes.OK},
	}
	for _, tc := range tests {
		c := dial(t, e.addr, tc.role)
		_, err := c.SearchEntries(ctx, &auditv1.SearchEntriesRequest{})
		if status.Code(err) != tc.wantSearch {
			t.Errorf("SearchEntries as %s = %v, want %s", tc.role, err, tc.wantSearch)
		}
		_, _, err = export(t, c, day)
		if status.Code(err) != tc.wantExport {
			t.Errorf("ExportEntries as %s = %v, want %s", tc.role, err, tc.wantExport)
		}
	}
}

// BenchmarkIngest measures how fast the consumer records events that are
// waiting in the stream, in entries per second.
func BenchmarkIngest(b *testing.B) {
	const n = 20000
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		publish(b, e.js, makeEvents(n, epoch))
		b.StartTimer()
		start := time.Now()
		e.run(b)
		waitForCount(b, e.pool, n, 5*time.Minute)
		total += time.Since(start)
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "entries/s")
}
