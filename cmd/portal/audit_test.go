package main

import (
	"bytes"
	"context"
	csvpkg "encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/platformportal/portal/platform/pgtest"
)

type auditEntry struct {
	Seq       string `json:"seq"`
	StreamSeq string `json:"streamSeq"`
	Actor     string `json:"actor"`
	Action    string `json:"action"`
	Resource  string `json:"resource"`
	Outcome   string `json:"outcome"`
	Details   struct {
		Agent struct {
			Name string `json:"name"`
		} `json:"agent"`
	} `json:"details"`
}

// auditEntries pages through the audit log's entries matching query, oldest
// first.
func auditEntries(t *testing.T, base string, query url.Values) []auditEntry {
	t.Helper()
	var all []auditEntry
	query.Set("order_by", "seq")
	query.Set("page_size", "1000")
	for {
		var page struct {
			Entries       []auditEntry `json:"entries"`
			NextPageToken string       `json:"nextPageToken"`
		}
		if code := call(t, "GET", base+"/api/v1/audit/entries?"+query.Encode(), nil, &page); code != 200 {
			t.Fatalf("search the audit log: HTTP %d", code)
		}
		all = append(all, page.Entries...)
		if page.NextPageToken == "" {
			return all
		}
		query.Set("page_token", page.NextPageToken)
	}
}

// TestAuditRecordsEveryMutation: 1,000 mutations by four actors, with the
// portal (and so the audit consumer) stopped and restarted half way while
// they were still being recorded, all appear in the audit log exactly once,
// in order, with their actors; the chain verifies; and a row altered in the
// database is found by VerifyChain and reported by the export.
func TestAuditRecordsEveryMutation(t *testing.T) {
	t.Parallel()
	db, data := pgtest.NewDatabase(t), t.TempDir()
	getenv := func(k string) string { return map[string]string{"DATABASE_URL": db}[k] }
	p := startPortal(t, db, data, nil)
	const actors, perActor = 4, 250
	secrets := make([]string, actors)
	for i := range secrets {
		secrets[i] = newToken(t, getenv, fmt.Sprintf("actor-%d", i), "operator")
	}
	mutate := func(base string, from, to int) {
		var wg sync.WaitGroup
		for a := range actors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := from; i < to; i++ {
					body := fmt.Sprintf(`{"name":"a%d-%04d","kind":"AGENT_KIND_BLANK"}`, a, i)
					req, _ := http.NewRequest("POST", base+"/api/v1/agents", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+secrets[a])
					req.Header.Set("Content-Type", "application/json")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Errorf("create: HTTP %d %s", resp.StatusCode, b)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	mutate(p.base, 0, perActor/2)
	p.stop() // the audit consumer stops wherever it was
	p = startPortal(t, db, data, nil)
	mutate(p.base, perActor/2, perActor)
	if t.Failed() {
		t.FailNow()
	}

	var entries []auditEntry
	eventually(t, 30*time.Second, "1,000 creations in the audit log", func() error {
		entries = auditEntries(t, p.base, url.Values{"action": {"portal.agents.v1.AgentCreated"}})
		if len(entries) < actors*perActor {
			return fmt.Errorf("%d entries", len(entries))
		}
		return nil
	})
	if len(entries) != actors*perActor {
		t.Fatalf("%d entries; want exactly %d (a duplicate?)", len(entries), actors*perActor)
	}
	next := make([]int, actors)
	var lastStream int64
	for _, e := range entries {
		var a, i int
		if _, err := fmt.Sscanf(e.Details.Agent.Name, "a%d-%04d", &a, &i); err != nil {
			t.Fatalf("entry %s: agent %q", e.Seq, e.Details.Agent.Name)
		}
		if want := fmt.Sprintf("token:actor-%d", a); e.Actor != want {
			t.Errorf("entry %s: actor %q; want %q", e.Seq, e.Actor, want)
		}
		if i != next[a] {
			t.Fatalf("entry %s: actor %d's creation %d; want %d (out of order or missing)", e.Seq, a, i, next[a])
		}
		next[a]++
		ss, _ := strconv.ParseInt(e.StreamSeq, 10, 64)
		if ss <= lastStream {
			t.Fatalf("entry %s: stream sequence %d after %d", e.Seq, ss, lastStream)
		}
		lastStream = ss
		if e.Outcome != "success" || !strings.HasPrefix(e.Resource, "agents/") {
			t.Errorf("entry %s: outcome %q resource %q", e.Seq, e.Outcome, e.Resource)
		}
	}

	var verify struct {
		OK             bool   `json:"ok"`
		EntriesChecked string `json:"entriesChecked"`
		FirstBrokenSeq string `json:"firstBrokenSeq"`
		Reason         string `json:"reason"`
	}
	if code := call(t, "GET", p.base+"/api/v1/audit/entries:verify", nil, &verify); code != 200 || !verify.OK {
		t.Fatalf("verify: HTTP %d %+v", code, verify)
	}

	// Someone with database access rewrites who did something.
	victim := entries[len(entries)/2]
	conn, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE audit.entries SET actor = 'mallory' WHERE seq = $1`, victim.Seq); err == nil {
		t.Fatal("the database let an audit entry be updated")
	}
	if _, err := conn.Exec(context.Background(), `SET session_replication_role = replica`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `UPDATE audit.entries SET actor = 'mallory' WHERE seq = $1`, victim.Seq); err != nil {
		t.Fatal(err)
	}
	if code := call(t, "GET", p.base+"/api/v1/audit/entries:verify", nil, &verify); code != 200 || verify.OK || verify.FirstBrokenSeq != victim.Seq {
		t.Fatalf("verify after tampering: HTTP %d %+v; want broken at %s", code, verify, victim.Seq)
	}
	q := url.Values{"format": {"csv"}, "start_time": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
		"end_time": {time.Now().Add(time.Minute).UTC().Format(time.RFC3339)}}
	resp, err := http.Get(p.base + "/api/v1/audit/entries:export?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(csv), "# chain verification: BROKEN at seq "+victim.Seq) {
		tail := string(csv)
		if len(tail) > 300 {
			tail = tail[len(tail)-300:]
		}
		t.Fatalf("export: HTTP %d, ends %q; want the break at seq %s reported", resp.StatusCode, tail, victim.Seq)
	}
	// A spreadsheet-ready file: its own content type, one record a line,
	// every record as wide as the header.
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("export Content-Type %q; want text/csv", ct)
	}
	r := csvpkg.NewReader(bytes.NewReader(csv))
	r.Comment = '#'
	records, err := r.ReadAll()
	if err != nil || len(records) < 1001 {
		t.Errorf("export as CSV: %d records, %v; want the header and 1,000 entries, all as wide as the header", len(records), err)
	}
	if bytes.Contains(csv, []byte("\n\n")) {
		t.Error("export has blank lines between chunks")
	}
}
