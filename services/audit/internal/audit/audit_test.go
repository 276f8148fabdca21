package audit

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"
)

func chain(n int) []*Entry {
	es := make([]*Entry, n)
	prev := GenesisHash
	for i := range es {
		es[i] = &Entry{Seq: int64(i + 1), Record: Record{EventID: uuid.New(), StreamSeq: uint64(i + 1),
			Time: time.Date(2026, 1, 1, 0, 0, i, 999, time.UTC), Actor: "alice", Action: "a.B", Details: []byte(`{}`)}}
		es[i].Seal(prev)
		prev = es[i].Hash
	}
	return es
}

func TestHashIsUnambiguous(t *testing.T) {
	base := chain(1)[0]
	variants := []func(e *Entry){
		func(e *Entry) { e.Actor, e.Action = "alic", "ea.B" }, // the same bytes, split elsewhere
		func(e *Entry) { e.Summary, e.Source = "x", "" },
		func(e *Entry) { e.Source, e.Summary = "x", "" },
		func(e *Entry) { e.Time = e.Time.Add(time.Microsecond) },
		func(e *Entry) { e.RecordedAt = e.RecordedAt.Add(time.Microsecond) },
		func(e *Entry) { e.StreamSeq++ },
		func(e *Entry) { e.Seq++ },
		func(e *Entry) { e.Details = []byte(`{ }`) },
		func(e *Entry) { e.PrevHash = bytes.Repeat([]byte{1}, HashSize) },
	}
	for i, change := range variants {
		e := *base
		change(&e)
		if bytes.Equal(Hash(&e), base.Hash) {
			t.Errorf("variant %d hashes like the original", i)
		}
	}
	// Below a microsecond, PostgreSQL keeps nothing, and neither does the hash.
	e := *base
	e.Time = e.Time.Add(500 * time.Nanosecond)
	if !bytes.Equal(Hash(&e), base.Hash) {
		t.Error("nanoseconds PostgreSQL drops change the hash")
	}
}

func TestVerifier(t *testing.T) {
	tests := []struct {
		name       string
		from       int
		change     func(es []*Entry) []*Entry
		wantBroken int64
		wantReason string
	}{
		{"intact", 1, func(es []*Entry) []*Entry { return es }, 0, ""},
		{"altered", 1, func(es []*Entry) []*Entry { es[4].Actor = "mallory"; return es }, 5, ReasonAltered},
		{"removed", 1, func(es []*Entry) []*Entry { return append(es[:4:4], es[5:]...) }, 6, ReasonRelink},
		{"first removed", 1, func(es []*Entry) []*Entry { return es[1:] }, 2, ReasonRelink},
		{"swapped", 1, func(es []*Entry) []*Entry { es[3], es[4] = es[4], es[3]; return es }, 5, ReasonRelink},
		{"rehashed and relinked, seq gap", 1, func(es []*Entry) []*Entry {
			es = append(es[:4:4], es[5:]...)
			prev := es[3].Hash
			for _, e := range es[4:] {
				e.Seal(prev)
				prev = e.Hash
			}
			return es
		}, 6, "seq 6 follows seq 4: entries removed"},
		{"range", 3, func(es []*Entry) []*Entry { return es }, 0, ""},
		{"range with its anchor missing", 3, func(es []*Entry) []*Entry { return es[2:] }, 3, "entry 2 before it is missing: entry removed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es := tc.change(chain(10))
			var anchor *Entry
			var rest []*Entry
			for _, e := range es {
				switch {
				case e.Seq == int64(tc.from-1):
					anchor = e
				case e.Seq >= int64(tc.from) || tc.from == 1:
					rest = append(rest, e)
				}
			}
			v := NewVerifier(int64(tc.from), anchor)
			for _, e := range rest {
				v.Check(e)
			}
			got := v.Result()
			if got.OK != (tc.wantBroken == 0) || got.FirstBrokenSeq != tc.wantBroken || got.Reason != tc.wantReason ||
				got.EntriesChecked != int64(len(rest)) {
				t.Errorf("Verify = %+v, want broken at %d (%q) over %d entries", got, tc.wantBroken, tc.wantReason, len(rest))
			}
		})
	}
}

func TestSummary(t *testing.T) {
	for _, tc := range []struct {
		r    Record
		want string
	}{
		{Record{Actor: "alice@example.com", Action: "portal.agents.v1.AgentStateChanged", Resource: "agents/123", Outcome: "success"},
			"alice@example.com portal.agents.v1.AgentStateChanged agents/123"},
		{Record{Actor: "unknown", Action: "x.Y", Outcome: "denied"}, "unknown x.Y (denied)"},
	} {
		if got := Summary(&tc.r); got != tc.want {
			t.Errorf("Summary(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}
